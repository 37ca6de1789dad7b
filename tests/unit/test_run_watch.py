"""RunWatch on a manual clock: which events stop a run and with what reason, and when
silence is a stall."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from core.clock import ManualClock
from core.jobs.watch import RunWatch, spell_duration, stop_reason
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TASK = Task(1, "ORCH-12", "api", "t", "development", 3, T0, T0, T0)


def event(kind: ChangeKind, to_stage: str, actor: str = "engine",
          reason: str | None = None) -> TaskEvent:
    return TaskEvent(9, 1, "ORCH-12", T0, actor, kind, "development", to_stage, 4, reason)


def watch(clock: ManualClock, stall_s: float = 300) -> RunWatch:
    return RunWatch(clock, lambda role: stall_s if role == "developer" else 0)


def test_a_move_away_stops_the_run_with_the_events_reason(clock: ManualClock) -> None:
    runs = watch(clock)
    control = runs.register(TASK.id, "development", "developer")

    runs.publish(event(ChangeKind.APPROVED, "development"), TASK)  # same stage: goes on
    assert not control.stopping
    blocked = replace(TASK, stage="blocked")
    runs.publish(event(ChangeKind.BLOCKED, "blocked", "plane", "moved to Blocked in Plane"),
                 blocked)
    runs.publish(event(ChangeKind.CANCELLED, "cancelled", "telegram:1"), blocked)

    assert control.stopping and not control.transient
    assert control.reason == "moved to Blocked in Plane"  # the first reason wins
    assert runs.stopped_total == 1


def test_reasons_name_the_move_when_the_event_does_not() -> None:
    assert stop_reason(event(ChangeKind.ROLLED_BACK, "development")) == (
        "rolled back to development")
    assert stop_reason(event(ChangeKind.CANCELLED, "cancelled", "telegram:501", "dup")) == (
        "cancelled by telegram:501: dup")
    assert stop_reason(event(ChangeKind.ADVANCED, "review")) == "moved to review"
    assert [spell_duration(s) for s in (300, 90, 7200)] == ["5 min", "90 s", "2 h"]


def test_silence_counts_only_once_the_agent_runs_and_only_past_the_limit(
        clock: ManualClock) -> None:
    runs = watch(clock)
    control = runs.register(TASK.id, "development", "developer")
    other = runs.register(2, "review", "reviewer")  # stall timeout 0: never stalls

    clock.advance(3600)  # a slow clone: not the agent's silence
    assert runs.check_stalls() == 0
    control.begin()
    other.begin()
    clock.advance(299)
    control.touch()  # it printed
    clock.advance(299)
    assert runs.check_stalls() == 0
    clock.advance(1)

    assert runs.check_stalls() == 1
    assert control.transient and control.reason == "stalled: no output for 5 min"
    assert not other.stopping
    runs.release(TASK.id, control)
    assert TASK.id not in runs.in_flight
