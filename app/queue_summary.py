"""The /queue summary as the running process wires it: the cached sections, the blocks
and the wait explainers, in one place that `orch run`, tests and the benchmark share."""

from __future__ import annotations

from core.clock import Clock
from core.config import Settings
from core.deps.service import DependencyService
from core.jobs.view import JobQueueView
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.ports import RevisionSource
from core.queue_view import QueueBlockSource, QueueService
from storage.database import Database
from storage.jobs import SqliteJobStore
from storage.revisions import SqliteRevisions


def build_queue(settings: Settings, clock: Clock, db: Database, pipeline: PipelineService,
                journal: LessonJournal, deps: DependencyService, *,
                live: tuple[QueueBlockSource, ...] = (),
                revisions: RevisionSource | None = None) -> QueueService:
    """The summary over `db`; `live` sources are in memory and cheap (e.g. the notifier):
    they are rebuilt on every request rather than gated by a revision."""
    queue = QueueService(pipeline, settings.pipeline, clock,
                         revisions=revisions or SqliteRevisions(db))
    jobs = JobQueueView(SqliteJobStore(db), settings, clock)
    queue.add_view(jobs)
    for source in live:
        queue.add_source(source)
    queue.add_source(journal, name="lessons", watches=("lessons",))
    queue.add_explainer(jobs)
    queue.add_explainer(deps)  # last: "waits for ORCH-3" says more than "#4 in line"
    return queue
