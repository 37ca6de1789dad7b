"""The notifier port: who hears about every applied change, and the hub that fans out."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.pipeline.tasks import Task, TaskEvent

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Hears about every applied change (the chat courier, the stage engine,
    the tracker write-back). Must never raise and never block for long."""

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Take note of a change; delivery happens later, outside the caller's path."""
        ...


class NotifierHub:
    """Hands each event to every subscribed notifier; one failing never stops the rest.

    Services get the hub at construction; adapters that need objects built later (the
    Telegram notifier needs the bot) subscribe once they exist.
    """

    def __init__(self) -> None:
        self._subscribers: list[Notifier] = []
        self.errors = 0

    def subscribe(self, notifier: Notifier) -> None:
        self._subscribers.append(notifier)

    def publish(self, event: TaskEvent, task: Task) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber.publish(event, task)
            except Exception:
                self.errors += 1
                log.exception("notifier %r failed on %s", subscriber, event.key)
