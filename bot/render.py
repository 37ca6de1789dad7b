"""Text the team reads: task cards, /queue, pushes. Pure functions, HTML-safe.

Every piece of outside text goes through `esc`; length limits are met by leaving
whole entries out and saying so, never by cutting markup in half.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from core.pipeline.stages import BLOCKED, CANCELLED, DONE, QUEUED, Pipeline, Stage
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.queue_view import QueueBlock, QueueEntry, QueueView, StageLine

MESSAGE_LIMIT = 4096
TITLE_LIMIT = 200
REASON_LIMIT = 400

STAGE_ICONS = {QUEUED: "⚪", BLOCKED: "⛔", DONE: "✅", CANCELLED: "✖️"}


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters of plain text, marked with … when shortened."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def since(moment: datetime, now: datetime) -> str:
    """A stable time label (cards are compared by content, so no live ages on them)."""
    if now - moment < timedelta(hours=20):
        return moment.strftime("%H:%M UTC")
    return moment.strftime("%b %d %H:%M UTC")


def card(task: Task, pipeline: Pipeline, now: datetime, waits: str | None = None,
         finished: Collection[Stage] | None = None) -> str:
    """The task card: one message per task, edited in place. `finished` (the stages the
    trail shows it finished) ticks a done or cancelled task's stages truthfully."""
    icon = STAGE_ICONS.get(task.stage, "🟡")
    lines = [
        f"{icon} <b>{esc(task.key)}</b> · {esc(clip(task.title, TITLE_LIMIT))}",
        f"{esc(task.repo)} · {esc(task.stage)} since {since(task.stage_entered_at, now)}",
        _progress(task, pipeline, finished),
    ]
    if task.stage == BLOCKED and task.reason:
        lines.append(f"<i>blocked: {esc(clip(task.reason, REASON_LIMIT))}</i>")
    elif task.stage == CANCELLED and task.reason:
        lines.append(f"<i>cancelled: {esc(clip(task.reason, REASON_LIMIT))}</i>")
    elif task.reason:
        lines.append(f"<i>{esc(clip(task.reason, REASON_LIMIT))}</i>")
    for note in (waits or "").splitlines():
        # a note that brings its own symbol keeps it; the others say what the task waits for
        mark = "" if note[:1] and not note[:1].isalnum() else "⏳ "
        lines.append(f"{mark}{esc(clip(note, REASON_LIMIT))}")
    return "\n".join(lines)


def _progress(task: Task, pipeline: Pipeline, finished: Collection[Stage] | None) -> str:
    work = [s for s in pipeline.order if s not in (QUEUED, DONE)]
    if task.stage in (DONE, CANCELLED) and finished is not None:
        return " → ".join(f"{esc(s)} ✓" if s in finished else esc(s) for s in work)
    where = task.blocked_from if task.stage == BLOCKED else task.stage
    if where in (QUEUED, CANCELLED) or where is None:
        reached = -1
    elif where == DONE:
        reached = len(work)
    else:
        reached = work.index(where) if where in work else -1
    parts = []
    for index, stage in enumerate(work):
        if index < reached:
            parts.append(f"{esc(stage)} ✓")
        elif index == reached:
            parts.append(f"<b>{esc(stage)} ●</b>")
        else:
            parts.append(esc(stage))
    return " → ".join(parts)


PUSH_TEMPLATES = {
    ChangeKind.NEEDS_APPROVAL: "🙋 <b>{key}</b> needs approval to leave {stage}: {title}",
    ChangeKind.DEPS_RELEASED: "✅ <b>{key}</b> unblocked ({reason})",
    ChangeKind.BLOCKED: "⛔ <b>{key}</b> blocked: {reason}",
    ChangeKind.FAILED: "❌ <b>{key}</b> failed: {reason}",
    ChangeKind.UNBLOCKED: "✅ <b>{key}</b> unblocked{because}",
    ChangeKind.DONE: "🏁 <b>{key}</b> done: {title}",
    ChangeKind.CANCELLED: "✖️ <b>{key}</b> cancelled: {reason}",
}


def push(event: TaskEvent, task: Task) -> str:
    """A push message: news that needs people, said once."""
    template = PUSH_TEMPLATES.get(event.kind, "ℹ️ <b>{key}</b> {stage}")
    reason = esc(clip(event.reason or "no reason given", REASON_LIMIT))
    return template.format(
        key=esc(task.key), stage=esc(event.to_stage), title=esc(clip(task.title, TITLE_LIMIT)),
        reason=reason, because=f" ({reason})" if event.reason else "",
    )


def digest(events: Sequence[TaskEvent]) -> str:
    """Many pushes folded into one message when the group's budget is spent."""
    counts = Counter(event.kind.value.replace("_", " ") for event in events)
    parts = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    keys = list(dict.fromkeys(e.key for e in events))  # first-seen order
    shown = ", ".join(keys[:12]) + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")
    return f"📦 {len(events)} updates: {esc(parts)} · {esc(shown)} · /queue"


def queue(view: QueueView, stale_for: timedelta | None = None) -> str:
    """/queue within one message: fewer entries per stage until it fits. `stale_for`:
    the answer came from the cache while a refresh runs, so say how old it is."""
    note = f"\n<i>as of {_seconds_ago(stale_for)} ago · refreshing</i>" if stale_for else ""
    for per_stage in (25, 12, 6, 3, 1, 0):
        text = _queue_text(view, per_stage, view.blocks) + note
        if len(text) <= MESSAGE_LIMIT:
            return text
    # still too long: only whole blocks may go, never half a tag
    return _queue_text(view, 0, ()) + note + "\n<i>Details left out to fit one message.</i>"


def _seconds_ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds} s" if seconds < 120 else age(delta)


def _queue_text(view: QueueView, per_stage: int, blocks: Sequence[QueueBlock]) -> str:
    header = f"<b>Pipeline</b> · {view.active_count} active · {view.blocked_count} blocked"
    lines = [header]
    if not view.stages:
        lines.append("Nothing in the pipeline.")
    for line in view.stages:
        lines.append(_stage_line(line, per_stage, view.generated_at))
    for block in blocks:
        lines.extend(_block_lines(block, per_stage))
    return "\n".join(lines)


def _stage_line(line: StageLine, per_stage: int, now: datetime) -> str:
    shown = [_entry_text(e, now) for e in line.entries[:per_stage]]
    if line.count > len(shown):
        shown.append(f"… +{line.count - len(shown)} more")
    return f"<b>{esc(line.stage)}</b> ({line.count})  " + " · ".join(shown)


def _entry_text(entry: QueueEntry, now: datetime) -> str:
    text = f"{esc(entry.key)} {age(entry.age_at(now))}"
    if entry.why:
        text += f" — {esc(clip(entry.why, 80))}"
    return text


def _block_lines(block: QueueBlock, per_stage: int) -> list[str]:
    limit = max(per_stage, 3)
    lines = [f"<b>{esc(block.title)}</b>"]
    lines.extend(esc(clip(line, 300)) for line in block.lines[:limit])
    if len(block.lines) > limit:
        lines.append(f"… +{len(block.lines) - limit} more")
    return lines
