"""A Notifier that records what it hears."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.pipeline.tasks import Task, TaskEvent


@dataclass
class RecordingNotifier:
    """Keeps every (event, task) it is given; raises `fail_with` after recording, if set."""

    published: list[tuple[TaskEvent, Task]] = field(default_factory=list)
    fail_with: Exception | None = None

    def publish(self, event: TaskEvent, task: Task) -> None:
        self.published.append((event, task))
        if self.fail_with is not None:
            raise self.fail_with

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event, _ in self.published]
