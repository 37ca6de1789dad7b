"""In-memory stand-ins for core's ports, one module per port family (as core/ports/);
they pass the same contract suites as the real adapters. Every name is re-exported here,
so `from tests.fakes import X` works whichever module holds X."""

from __future__ import annotations

from tests.fakes.agents import FakeWorktrees, ScriptedRunner
from tests.fakes.chat import FakeRenderer, FakeSender
from tests.fakes.deps import InMemoryDependencyStore, RecordingDependencies
from tests.fakes.jobs import InMemoryJobStore
from tests.fakes.lessons import (
    FailingLessonStore,
    InMemoryLessonStore,
    RecordingLessons,
    UntouchableLessonStore,
)
from tests.fakes.notify import RecordingNotifier
from tests.fakes.scheduler import ManualScheduler
from tests.fakes.sync import InMemorySyncStore
from tests.fakes.tasks import InMemoryTaskStore
from tests.fakes.tracker import TEAM_STATES, FakeMeter, FakeTracker

__all__ = [
    "TEAM_STATES",
    "FailingLessonStore",
    "FakeMeter",
    "FakeRenderer",
    "FakeSender",
    "FakeTracker",
    "FakeWorktrees",
    "InMemoryDependencyStore",
    "InMemoryJobStore",
    "InMemoryLessonStore",
    "InMemorySyncStore",
    "InMemoryTaskStore",
    "ManualScheduler",
    "RecordingDependencies",
    "RecordingLessons",
    "RecordingNotifier",
    "ScriptedRunner",
    "UntouchableLessonStore",
]
