"""A Tracker in memory (with Plane's behaviour) and the meter it keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from core.errors import (
    TrackerRejected,
    TrackerUnavailable,
)
from core.tracker import ItemPage, Relations, StateGroup, TrackerProject, TrackerState, WorkItem

TEAM_STATES: tuple[tuple[str, StateGroup], ...] = (
    ("Backlog", StateGroup.BACKLOG),
    ("Todo", StateGroup.UNSTARTED),
    ("Approved", StateGroup.UNSTARTED),
    ("In Progress", StateGroup.STARTED),
    ("Doing", StateGroup.STARTED),  # a second started state no logical key points at
    ("In Review", StateGroup.STARTED),
    ("Blocked", StateGroup.STARTED),
    ("Done", StateGroup.COMPLETED),
    ("Cancelled", StateGroup.CANCELLED),
)


@dataclass
class FakeMeter:
    """The counters a PlaneClient keeps, for the reconciler's /queue block."""

    calls: int = 0
    rate_limit_waits: int = 0
    last_error: str | None = None


class FakeTracker:
    """A Tracker in dicts: one project with the team's states, items listed newest change
    first in offset pages, idempotent comments. `down` makes every call raise it."""

    def __init__(self, identifier: str = "PROJ", project_id: str = "p-1", *,
                 name: str = "plane") -> None:
        self.name = name
        self.project = TrackerProject(project_id, identifier, identifier)
        self.state_list = [
            TrackerState(f"s-{name.lower().replace(' ', '-')}", name, group)
            for name, group in TEAM_STATES
        ]
        self.items: dict[str, WorkItem] = {}
        self.blockers: dict[str, tuple[str, ...]] = {}
        self.comments: dict[str, tuple[str, str]] = {}  # external id → (item id, html)
        self.comment_posts = 0  # POSTs, 409 twins included
        self.writes: list[tuple[str, str]] = []  # (item id, state id) set by orch
        self.down: Exception | None = None
        self.fail_comments = 0  # the next N comment posts fail
        self.stats = FakeMeter()
        self.requests: Counter[str] = Counter()
        self._stamp = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        self._sequence = 0

    # -- the scene -------------------------------------------------------------------

    def state_id(self, name: str) -> str:
        return next(s.id for s in self.state_list if s.name == name)

    def add(self, name: str, state: str = "Backlog", description: str = "") -> WorkItem:
        self._sequence += 1
        item = WorkItem(
            id=f"i-{self._sequence}", project_id=self.project.id,
            key=f"{self.project.identifier}-{self._sequence}", sequence_id=self._sequence,
            name=name, state_id=self.state_id(state), updated_at=self._next_stamp(),
            description=description, priority="none")
        self.items[item.id] = item
        return item

    def move(self, key: str, state: str, by: str = "Alice") -> WorkItem:
        """A person moves the item (Plane's emulator: Alice, its one human member)."""
        return self._change(self.item_by_key(key).id, self.state_id(state), by)

    def touch(self, key: str) -> WorkItem:
        """A change that is not a state change (a comment, a relation, a title)."""
        item = self.item_by_key(key)
        return self._change(item.id, item.state_id)

    def delete(self, key: str) -> None:
        del self.items[self.item_by_key(key).id]

    def item_by_key(self, key: str) -> WorkItem:
        return next(i for i in self.items.values() if i.key == key)

    # -- the port --------------------------------------------------------------------

    async def projects(self) -> list[TrackerProject]:
        self._call("projects")
        return [self.project]

    async def states(self, project_id: str) -> list[TrackerState]:
        self._call("states")
        return list(self.state_list)

    async def items_page(self, project_id: str, *, cursor: str | None = None,
                         per_page: int = 100, order_by: str = "-updated_at") -> ItemPage:
        self._call("items_page")
        rows = sorted(self.items.values(), key=lambda i: i.updated_at, reverse=True)
        start = int(cursor or 0)
        more = start + per_page < len(rows)
        return ItemPage(tuple(rows[start:start + per_page]), str(start + per_page) if more
                        else None)

    async def item(self, project_id: str, item_id: str) -> WorkItem:
        self._call("item")
        found = self.items.get(item_id) or next(
            (i for i in self.items.values() if i.key == item_id.upper()), None)  # or by key
        if found is None:
            raise TrackerRejected("Plane refused GET (404): not found", 404)
        return found

    async def relations(self, project_id: str, item_id: str) -> Relations:
        self._call("relations")
        return Relations(blocked_by=self.blockers.get(item_id, ()))

    async def set_state(self, project_id: str, item_id: str, state_id: str) -> None:
        self._call("set_state")
        self.writes.append((item_id, state_id))
        self._change(item_id, state_id, "")  # orch's own write names nobody

    async def comment(self, project_id: str, item_id: str, html: str, external_id: str) -> str:
        self._call("comment")
        if self.fail_comments:
            self.fail_comments -= 1
            raise TrackerUnavailable("Plane POST comments failed 4 times; last: 502")
        self.comment_posts += 1
        self.comments.setdefault(external_id, (item_id, html))
        self._change(item_id, self.items[item_id].state_id)  # Plane bumps updated_at
        return external_id

    def _call(self, what: str) -> None:
        self.stats.calls += 1
        self.requests[what] += 1
        if self.down is not None:
            self.stats.last_error = str(self.down)
            raise self.down

    def _change(self, item_id: str, state_id: str, by: str | None = None) -> WorkItem:
        """A change; `by` None keeps who changed it last (a comment is not a change by
        its author in Plane's updated_by)."""
        item = self.items[item_id]
        item = replace(item, state_id=state_id, updated_at=self._next_stamp(),
                       changed_by=item.changed_by if by is None else by)
        self.items[item_id] = item
        return item

    def _next_stamp(self) -> datetime:
        self._stamp += timedelta(minutes=1)  # people move items minutes apart
        return self._stamp
