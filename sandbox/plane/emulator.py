"""PlaneEmulator: an in-memory Plane workspace, driven from Python and served over HTTP.

Tests, the demo and the benchmark set the scene through the Python API (`add_project`,
`add_item`, `move_item`, …) and point a real PlaneClient at `serve_emulator()`. All time
comes from the injected clock; `updated_at` strictly increases on every change even when
that clock stands still, so `-updated_at` ordering always reflects the last change.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from sandbox.plane.ratelimit import Admission, SlidingWindow
from sandbox.plane.records import (
    BOT,
    HUMAN,
    REVERSE_OF,
    STORED_AS,
    USERS,
    WORKSPACE_ID,
    Comment,
    Item,
    Project,
    State,
    new_id,
)
from sandbox.plane.webhooks import Outbox, Pending, WebhookSender

DEFAULT_STATES = (
    ("Backlog", "backlog", "#60646C"),
    ("Todo", "unstarted", "#60646C"),
    ("In Progress", "started", "#F59E0B"),
    ("Done", "completed", "#46A758"),
    ("Cancelled", "cancelled", "#9AA4BC"),
)
WEBHOOK_ID = "223d1a93-8980-40b4-8238-c838406879b9"
_TICK = timedelta(microseconds=1)


@dataclass
class EmulatorStats:
    """What the emulator served: for tests and the benchmark."""

    calls: int = 0  # every HTTP request, refused ones included
    by_route: Counter[str] = field(default_factory=Counter)  # "GET work-items" → n
    rate_limited: int = 0  # 429s answered
    rows_transferred: int = 0  # objects sent in bodies (a page of 100 items is 100)


class PlaneEmulator:
    """One workspace, one or more API keys, a per-key rate limit and webhooks."""

    def __init__(
        self,
        clock: Clock,
        api_key: str,
        workspace: str = "acme",
        *,
        rate_limit_per_min: int = 60,
        webhook_url: str | None = None,
        webhook_secret: str = "",
        sender: WebhookSender | None = None,
    ) -> None:
        self.clock = clock
        self.workspace = workspace
        self.api_key = api_key
        self.api_keys = {api_key}
        self.rate_limit_per_min = rate_limit_per_min
        self.projects: dict[str, Project] = {}
        self.states: dict[str, State] = {}
        self.items: dict[str, Item] = {}
        self.comments: dict[str, Comment] = {}
        self.relations: set[tuple[str, str, str]] = set()  # (item, related, stored type)
        self.stats = EmulatorStats()
        self.outbox = Outbox(webhook_url, webhook_secret, sender)
        self._windows: dict[str, SlidingWindow] = {}
        self._by_key: dict[str, str] = {}
        self._last_stamp: datetime | None = None

    # -- the Python API -------------------------------------------------------------

    def add_project(
        self, identifier: str, name: str = "", *, default_states: bool = True
    ) -> Project:
        project = Project(new_id(), identifier, name or identifier, self.stamp())
        self.projects[project.id] = project
        for index, (state_name, group, color) in enumerate(
            DEFAULT_STATES if default_states else ()
        ):
            self.add_state(identifier, state_name, group, color=color, default=index == 0)
        self.outbox.queue(Pending("project", "created", project.id, actor=BOT))
        return project

    def add_state(
        self, project: str, name: str, group: str, *, color: str = "#60646C", default: bool = False
    ) -> State:
        owner = self.project(project)
        sequences = [s.sequence for s in self.states.values() if s.project_id == owner.id]
        state = State(
            new_id(),
            owner.id,
            name,
            group,
            max(sequences, default=0) + 15000,
            self.stamp(),
            color=color,
            default=default,
        )
        self.states[state.id] = state
        return state

    def add_item(
        self,
        project: str,
        name: str,
        *,
        state: str | None = None,
        priority: str = "none",
        description_html: str = "<p></p>",
        external_id: str | None = None,
        external_source: str | None = None,
        actor: Mapping[str, Any] = HUMAN,
    ) -> Item:
        owner = self.project(project)
        state_id = (self.state(project, state) if state else self.default_state(owner.id)).id
        return self.create_item(
            owner,
            name,
            state_id,
            priority=priority,
            actor=actor,
            description_html=description_html,
            external_id=external_id,
            external_source=external_source,
        )

    def move_item(self, key: str, state_name: str) -> Item:
        item = self.item(key)
        project = self.projects[item.project_id]
        self.change_item(item, {"state": self.state(project.id, state_name).id}, HUMAN)
        return item

    def delete_item(self, key: str) -> None:
        """Gone at once, with its comments and relations; Plane sends no webhook."""
        item = self.item(key)
        del self.items[item.id]
        self._by_key.pop(self.key_of(item), None)
        self.relations = {r for r in self.relations if item.id not in r[:2]}
        self.comments = {c.id: c for c in self.comments.values() if c.item_id != item.id}

    def add_relation(self, key: str, related_key: str, relation_type: str = "blocked_by") -> None:
        """`add_relation("ORCH-2", "ORCH-1")`: ORCH-2 is blocked by ORCH-1. No webhook."""
        item = self.item(key)
        self.relate(item, [self.item(related_key).id], relation_type)
        self.touch(item.id)

    def add_comment(self, key: str, html: str, external_id: str | None = None) -> Comment:
        item = self.item(key)
        comment = self.create_comment(item, html, "orch" if external_id else None, external_id)
        self.touch(item.id)
        return comment

    def spend_budget(self, requests: int, api_key: str | None = None) -> None:
        """Count requests made by other users of the key (Plane counts them all)."""
        window = self.window(api_key or self.api_key)
        for _ in range(requests):
            window.admit(self.clock.now())

    async def deliver_webhooks(self) -> int:
        """Send the queued webhooks (the HTTP app does this after each response)."""
        return await self.outbox.deliver(self._render)

    # -- lookups -------------------------------------------------------------------

    def project(self, ref: str) -> Project:
        """A project by identifier or id."""
        for project in self.projects.values():
            if ref in (project.id, project.identifier):
                return project
        raise KeyError(f"no project {ref}")

    def state(self, project: str, name: str) -> State:
        owner = self.project(project)
        for state in self.states.values():
            if state.project_id == owner.id and state.name == name:
                return state
        raise KeyError(f"no state {name!r} in {owner.identifier}")

    def default_state(self, project_id: str) -> State:
        states = [s for s in self.states.values() if s.project_id == project_id]
        return next((s for s in states if s.default), states[0])

    def item(self, ref: str) -> Item:
        """An item by key (`ORCH-2`) or id."""
        item = self.items.get(self._by_key.get(ref.upper(), ref))
        if item is None:
            raise KeyError(f"no item {ref}")
        return item

    def key_of(self, item: Item) -> str:
        return f"{self.projects[item.project_id].identifier}-{item.sequence_id}"

    def window(self, api_key: str) -> SlidingWindow:
        return self._windows.setdefault(api_key, SlidingWindow(self.rate_limit_per_min))

    def admit(self, api_key: str) -> Admission:
        return self.window(api_key).admit(self.clock.now())

    # -- changes shared by the Python API and the HTTP app ------------------------

    def stamp(self) -> datetime:
        """Now, but always after the previous stamp: the clock may stand still."""
        now = self.clock.now()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + _TICK
        self._last_stamp = now
        return now

    def create_item(
        self,
        project: Project,
        name: str,
        state_id: str,
        *,
        priority: str,
        description_html: str,
        external_id: str | None,
        external_source: str | None,
        actor: Mapping[str, Any] = BOT,
    ) -> Item:
        now = self.stamp()
        item = Item(
            new_id(),
            project.id,
            project.next_sequence,
            name,
            state_id,
            now,
            now,
            priority=priority,
            description_html=description_html,
            external_id=external_id,
            external_source=external_source,
        )
        project.next_sequence += 1
        self._set_completed(item)
        self.items[item.id] = item
        self._by_key[self.key_of(item)] = item.id
        self.outbox.queue(Pending("issue", "created", item.id, actor=actor))
        return item

    def change_item(
        self, item: Item, changes: Mapping[str, Any], actor: Mapping[str, Any]
    ) -> list[str]:
        """Apply field changes; one webhook per field that really changed."""
        changed = []
        for name, value in changes.items():
            attr = "state_id" if name == "state" else name
            old = getattr(item, attr)
            if old != value:
                setattr(item, attr, value)
                changed.append(name)
                self.outbox.queue(Pending("issue", "updated", item.id, name, old, value, actor))
        if changed:
            item.updated_at = self.stamp()
            item.updated_by = str(actor["id"])
            self._set_completed(item)
        return changed

    def touch(self, item_id: str) -> None:
        """Plane's after-the-fact bump of updated_at (after PATCH, comment, relation)."""
        if (item := self.items.get(item_id)) is not None:
            item.updated_at = self.stamp()

    def relate(self, item: Item, related_ids: list[str], relation_type: str) -> list[Item]:
        stored = STORED_AS.get(relation_type, relation_type)
        reverse = relation_type in STORED_AS
        related = [self.items[i] for i in related_ids if i in self.items and i != item.id]
        for other in related:
            self.relations.add(
                (other.id, item.id, stored) if reverse else (item.id, other.id, stored)
            )
        return related

    def relations_of(self, item_id: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {
            t: []
            for t in (
                "blocking",
                "blocked_by",
                "duplicate",
                "relates_to",
                "start_after",
                "start_before",
                "finish_after",
                "finish_before",
            )
        }
        for source, target, kind in sorted(self.relations):
            if source == item_id:
                found[kind].append(target)
            elif target == item_id:
                found[REVERSE_OF.get(kind, kind)].append(source)
        return found

    def create_comment(
        self, item: Item, html: str, external_source: str | None, external_id: str | None
    ) -> Comment:
        comment = Comment(
            new_id(), item.project_id, item.id, html, self.stamp(), external_source, external_id
        )
        self.comments[comment.id] = comment
        self.outbox.queue(Pending("issue_comment", "created", comment.id, actor=BOT))
        return comment

    def _set_completed(self, item: Item) -> None:
        done = self.states[item.state_id].group == "completed"
        if done and item.completed_at is None:
            item.completed_at = item.updated_at
        elif not done:
            item.completed_at = None

    def _render(self, change: Pending) -> dict[str, Any] | None:
        """The delivery body, with `data` as it is now (not as it was at the change)."""
        data = self._webhook_data(change)
        if data is None:
            return None  # deleted since: Plane sends nothing for deletions
        return {
            "event": change.event,
            "action": change.action,
            "webhook_id": WEBHOOK_ID,
            "workspace_id": WORKSPACE_ID,
            "data": data,
            "activity": {
                "field": change.field,
                "new_value": _value(change.new_value),
                "old_value": _value(change.old_value),
                "actor": dict(change.actor or {}),
                "old_identifier": None,
                "new_identifier": None,
            },
        }

    def _webhook_data(self, change: Pending) -> dict[str, Any] | None:
        if change.event == "project":
            project = self.projects.get(change.subject_id)
            return project.json() if project else None
        if change.event == "issue_comment":
            comment = self.comments.get(change.subject_id)
            return comment.json() if comment else None
        item = self.items.get(change.subject_id)
        if item is None:
            return None
        return {
            **item.json(),
            "state": self.states[item.state_id].brief(),
            "assignees": [USERS[a] for a in item.assignees if a in USERS],
            "labels": [],
            "description_stripped": _strip(item.description_html),
        }


def _value(value: Any) -> Any:
    return None if value is None else str(value) if not isinstance(value, list) else value


def _strip(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).strip()
