"""Rendering stays within one Telegram message and always yields HTML Telegram accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.queue_view import QueueBlock, QueueEntry, QueueView, StageLine
from sandbox.telegram.html_text import parse_html, utf16_len

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PIECES = [*"<>&\"'/;abc ", "😀", "👩‍👩‍👧", "مرحبا", "שלום", "\u202e", "&amp;", "<b>", "</i>", "\n"]
HOSTILE = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=120).map("".join),
    st.text(max_size=300),
)
stages = st.sampled_from([*DEFAULT_PIPELINE.order, "blocked", "cancelled"])


def task(title: str, stage: str = "review", reason: str | None = None, n: int = 1) -> Task:
    return Task(id=n, key=f"ORCH-{n}", repo="api", title=title, stage=stage, version=3,
                created_at=NOW, updated_at=NOW, stage_entered_at=NOW - timedelta(minutes=12),
                blocked_from="review" if stage == "blocked" else None, reason=reason)


def telegram_accepts(text: str) -> bool:
    parsed = parse_html(text)  # raises on markup Telegram would refuse
    return 0 < utf16_len(parsed.text) <= render.MESSAGE_LIMIT


@given(HOSTILE, stages, st.one_of(st.none(), HOSTILE))
def test_card_is_valid_html_within_the_limit(title: str, stage: str, reason: str | None) -> None:
    assert telegram_accepts(render.card(task(title, stage, reason), DEFAULT_PIPELINE, NOW))


@given(HOSTILE, st.sampled_from(ChangeKind), st.one_of(st.none(), HOSTILE))
def test_push_is_valid_html(title: str, kind: ChangeKind, reason: str | None) -> None:
    event = TaskEvent(1, 1, "ORCH-1", NOW, "engine", kind, "review", "blocked", 4, reason)
    assert telegram_accepts(render.push(event, task(title)))


@settings(max_examples=25)
@given(st.lists(HOSTILE, min_size=0, max_size=400), st.lists(HOSTILE, max_size=30))
def test_queue_fits_one_message_whatever_the_titles(titles: list[str], lines: list[str]) -> None:
    entries = tuple(QueueEntry(f"ORCH-{n}", t, "review", NOW - timedelta(minutes=n), t or None)
                    for n, t in enumerate(titles))
    view = QueueView(NOW, (StageLine("review", len(entries) * 3, entries[:25]),),
                     (QueueBlock("reconcile", tuple(lines)),))
    text = render.queue(view, stale_for=timedelta(seconds=3))
    assert telegram_accepts(text)
    assert len(text) <= render.MESSAGE_LIMIT


def test_queue_summarises_instead_of_cutting() -> None:
    entries = tuple(QueueEntry(f"ORCH-{n}", "x" * 100, "development", NOW - timedelta(hours=1))
                    for n in range(1000))
    text = render.queue(QueueView(NOW, (StageLine("development", 1000, entries[:25]),), ()))
    assert "development</b> (1000)" in text and "+975 more" in text


def test_a_stale_queue_says_how_old_it_is() -> None:
    view = QueueView(NOW, (), ())
    assert "as of 3 s ago" in render.queue(view, stale_for=timedelta(seconds=3))
    assert "as of" not in render.queue(view)


def test_digest_counts_kinds_and_names_tasks() -> None:
    events = [TaskEvent(n, n, f"ORCH-{n}", NOW, "engine", ChangeKind.BLOCKED, "review",
                        "blocked", 2) for n in range(30)]
    text = render.digest(events)
    assert text.startswith("📦 30 updates: 30 blocked") and "18 more" in text
    assert telegram_accepts(text)


def test_queue_leaves_whole_blocks_out_rather_than_cutting_markup() -> None:
    blocks = tuple(QueueBlock(f"block {n}", tuple("<&>" * 200 for _ in range(5)))
                   for n in range(12))
    entry = QueueEntry("ORCH-1", "t", "review", NOW - timedelta(minutes=1))
    view = QueueView(NOW, (StageLine("review", 1, (entry,)),), blocks)
    text = render.queue(view)
    assert telegram_accepts(text)
    assert "Details left out" in text and "ORCH-1" not in text.split("Details")[1]
