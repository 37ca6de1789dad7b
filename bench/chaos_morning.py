"""The crash test's morning (what people do) and its count (what was lost or doubled).

People act only on what they can see: a press is made on a card's current Approve
button, never invented. The count reads orch's database (read-only) and the chat as the
emulator holds it.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.pipeline.attention import wants_push
from core.pipeline.tasks import ChangeKind, TaskEvent
from sandbox.plane import PlaneEmulator
from sandbox.team import GROUP
from sandbox.telegram.emulator import TelegramEmulator

CARD_LINE = re.compile(r"^\S+ · .+ since ")
# what a person presses when a task waits for one (blocked: its agent kept failing,
# e.g. because orch was killed during its runs until the retry budget was spent)
WAITING = {"queued": ("Approve",), "merge": ("Approve",), "blocked": ("Retry", "Unblock")}


@dataclass(frozen=True)
class Plan:
    chat_tasks: int = 3
    plane_items: int = 2
    finish_s: float = 150.0

    @classmethod
    def small(cls) -> Plan:
        # The suite's plan: fewer tasks, the same patience (a run killed twice waits out
        # two transient backoffs).
        return cls(chat_tasks=2, plane_items=1, finish_s=150.0)


@dataclass
class Press:
    task_id: int
    version: int
    user: int


@dataclass
class Morning:
    emu: TelegramEmulator
    plane: PlaneEmulator
    db: Path
    rng: Any
    plan: Plan
    approvers: tuple[int, int]
    member: int
    steps: list[tuple[str, str]] = field(default_factory=list)
    commands: dict[int, str] = field(default_factory=dict)  # message id -> text
    presses: list[Press] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for n in range(1, self.plan.chat_tasks + 1):
            self.steps.append(("say", f"/new api Chaos task {n}"))
            self.titles.append(f"Chaos task {n}")
        self.steps += [("member", "/help"), ("member", "/queue")]
        for n in range(1, self.plan.plane_items + 1):
            self.steps += [("plane_add", f"Plane item {n}"), ("plane_approve", f"WEB-{n}")]
            self.titles.append(f"Plane item {n}")
        self.steps.append(("member", "/task ORCH-1"))

    async def act(self, n: int, *, provoke: bool = False) -> None:
        """Up to `n` things a person does next; `provoke`: something orch must answer."""
        for _ in range(n):
            if self.steps and (provoke or self.rng.random() < 0.7):
                self._step(*self.steps.pop(0))
            elif not self._press():
                if self.steps:
                    self._step(*self.steps.pop(0))
                elif provoke:
                    self._step("member", "/help")
            await asyncio.sleep(0.05)

    def _step(self, kind: str, text: str) -> None:
        if kind in ("say", "member"):
            user = self.approvers[0] if kind == "say" else self.member
            sent = self.emu.user_message(GROUP, text, user_id=user, first_name=f"u{user}")
            self.commands[sent["message"]["message_id"]] = text
        elif kind == "plane_add":
            self.plane.add_item("WEB", text, state="Todo")
        elif kind == "plane_approve":
            self.plane.move_item(text, "Approved")

    def _press(self) -> bool:
        """Approve one task that waits for a person, on its card's current button."""
        pressed = {(p.task_id, p.version) for p in self.presses}
        for task_id, version, labels in self._waiting():
            if (task_id, version) in pressed:
                continue
            data = self._button(task_id, version, labels)
            if data is None:
                continue
            user = self.rng.choice(self.approvers)
            card = _db_one(self.db, "SELECT message_id FROM chat_cards WHERE task_id = ?",
                           (task_id,))
            self.emu.press_button(GROUP, card[0], data, user_id=user, first_name=f"u{user}")
            self.presses.append(Press(task_id, version, user))
            return True
        return False

    def _waiting(self) -> list[tuple[int, int, tuple[str, ...]]]:
        rows = _db_all(self.db, "SELECT t.id, t.version, t.stage, (SELECT kind FROM task_events "
                                "e WHERE e.task_id = t.id ORDER BY version DESC LIMIT 1) "
                                "FROM tasks t")
        return [(r[0], r[1], WAITING[r[2]]) for r in rows
                if r[2] in WAITING and r[3] != "approved"]

    def _button(self, task_id: int, version: int, labels: tuple[str, ...]) -> str | None:
        card = _db_one(self.db, "SELECT message_id FROM chat_cards WHERE task_id = ?",
                       (task_id,))
        if card is None:
            return None
        for message in self.emu.chat_messages(GROUP):
            if message["message_id"] != card[0]:
                continue
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data", "")
                    if button["text"] in labels and data.split(":")[3] == str(version):
                        return str(data)
        return None

    async def finish(self, within_s: float) -> bool:
        """Play on until every task is done and orch has nothing left to handle or say."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            await self.act(1)
            if not self.steps and self._all_done() and self._quiet():
                return True
            await asyncio.sleep(0.3)
        return False

    def _all_done(self) -> bool:
        rows = _db_all(self.db, "SELECT title, stage FROM tasks")
        stages = {title: stage for title, stage in rows}
        return all(stages.get(t) == "done" for t in self.titles)

    def _quiet(self) -> bool:
        inbox = _db_one(self.db, "SELECT count(*) FROM chat_inbox WHERE handled_at IS NULL")
        outbox = _db_one(self.db, "SELECT count(*) FROM chat_outbox "
                                  "WHERE state IN ('pending', 'sending') OR live_buttons = 1 "
                                  "AND message_id IS NOT NULL AND version < (SELECT version "
                                  "FROM tasks WHERE id = chat_outbox.task_id)")
        behind = _db_one(self.db, "SELECT count(*) FROM tasks t LEFT JOIN chat_cards c ON "
                                  "c.task_id = t.id WHERE c.shown_version IS NULL OR "
                                  "c.shown_version < t.version")
        return (inbox or (1,))[0] == 0 and (outbox or (1,))[0] == 0 and (behind or (1,))[0] == 0


def count(db: Path, emu: TelegramEmulator, morning: Morning) -> dict[str, Any]:
    """What was lost, doubled or stuck, from orch's database and the group's messages."""
    messages = [m for m in emu.chat_messages(GROUP) if m["from_bot"]]
    counts: dict[str, Any] = {}
    titles = Counter(r[0] for r in _db_all(db, "SELECT title FROM tasks"))
    counts["tasks_lost"] = sum(1 for t in morning.titles if titles[t] == 0)
    counts["inputs_applied_twice"] = sum(1 for t in morning.titles if titles[t] > 1)
    replied = Counter(m["reply_to_message_id"] for m in messages if m["reply_to_message_id"])
    commands_lost = sum(1 for mid, text in morning.commands.items()
                        if not text.startswith("/new") and replied[mid] == 0)
    news_lost = sum(1 for t in morning.titles if titles[t] == 0 and t.startswith("Chaos"))
    counts["replies_lost"] = sum(1 for mid in morning.commands if replied[mid] == 0)
    counts["replies_twice"] = sum(n - 1 for n in replied.values() if n > 1)
    presses_lost = sum(1 for p in morning.presses if _db_one(
        db, "SELECT 1 FROM task_events WHERE task_id = ? AND version = ?",
        (p.task_id, p.version + 1)) is None)
    counts["presses"] = len(morning.presses)
    counts["inputs_lost"] = commands_lost + news_lost + presses_lost
    counts.update(_pushes(db, messages))
    counts["cards_duplicated"] = _card_copies(messages)
    counts["suspect_rows"] = (_db_one(db, "SELECT count(*) FROM chat_outbox WHERE suspect = 1")
                              or (0,))[0]
    counts["runs_stuck"] = (_db_one(db, "SELECT count(*) FROM runs WHERE status IN "
                                        "('pending', 'running')") or (0,))[0]
    counts["files_lost"] = _files_lost(db.parent / "repos")
    counts["group_messages"] = len(messages)
    counts["not_done"] = ",".join(f"{k}:{st}:v{v}" for k, st, v in _db_all(
        db, "SELECT key, stage, version FROM tasks WHERE stage != 'done'")) or "-"
    return counts


def _pushes(db: Path, messages: list[dict[str, Any]]) -> dict[str, int]:
    shown = {m["message_id"] for m in messages}
    rows = _db_all(db, "SELECT e.id, e.task_id, t.key, e.at, e.actor, e.kind, e.from_stage, "
                       "e.to_stage, e.version, e.reason, o.state, o.message_id, d.state, "
                       "d.message_id FROM task_events e JOIN tasks t ON t.id = e.task_id "
                       "JOIN chat_outbox o ON o.event_id = e.id "
                       "LEFT JOIN chat_outbox d ON d.id = o.folded_into")
    lost = deduped = sent = 0
    for r in rows:
        event = TaskEvent(r[0], r[1], r[2], datetime.now(UTC), r[4], ChangeKind(r[5]), r[6],
                          r[7], r[8], r[9])
        if not wants_push(event):
            continue
        state, message_id, digest_state, digest_id = r[10], r[11], r[12], r[13]
        if state == "sent" and message_id in shown:
            sent += 1
        elif state == "folded" and digest_state == "sent" and digest_id in shown:
            sent += 1
        elif state == "skipped":
            deduped += 1
        else:
            lost += 1
    # Every message orch means to send is an outbox row that records its message id once
    # sent (one row per event: event_id is unique). A push in the group that no row
    # records was sent by an attempt orch could not record: it is that push sent twice.
    # (Counting equal texts instead would take two real events of one task, e.g. two
    # "blocked" pushes with the same reason, for one push sent twice.)
    recorded = {r[0] for r in _db_all(db, "SELECT message_id FROM chat_outbox WHERE message_id "
                                          "IS NOT NULL UNION SELECT message_id FROM chat_cards")}
    unrecorded = [m for m in messages if m["message_id"] not in recorded
                  and m["reply_to_message_id"] is None and not _is_card(m)]
    return {"pushes_sent": sent, "pushes_lost": lost, "pushes_deduped": deduped,
            "pushes_twice": len(unrecorded)}


def _files_lost(repos: Path) -> int:
    """Files of main that a task branch deleted: the sandbox's agents only add and edit,
    so a deletion is work an agent committed over a worktree a kill left half made."""
    lost = 0
    for repo in sorted(repos.glob("[!._]*/.git")):
        branches = _git(repo.parent, "for-each-ref", "--format=%(refname)", "refs/heads/orch")
        for branch in branches.split():
            lost += len(_git(repo.parent, "diff", "--diff-filter=D", "--name-only", "main",
                             branch).split())
    return lost


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def _is_card(message: dict[str, Any]) -> bool:
    lines = message["plain_text"].splitlines()
    return len(lines) > 1 and bool(CARD_LINE.match(lines[1]))


def _card_copies(messages: list[dict[str, Any]]) -> int:
    keys = Counter(m["plain_text"].split(" · ")[0].split()[-1] for m in messages
                   if m["reply_to_message_id"] is None and _is_card(m))
    return sum(n - 1 for n in keys.values() if n > 1)


def _db_all(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return list(conn.execute(sql, params).fetchall())
        except sqlite3.OperationalError:
            return []  # not migrated yet


def _db_one(db: Path, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    rows = _db_all(db, sql, params)
    return rows[0] if rows else None
