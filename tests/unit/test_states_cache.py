"""StatesCache: TTL self-heal, lifetime mode, stale-over-defaults, reload, missing names."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from core.clock import ManualClock
from core.config import DEFAULT_STATE_NAMES
from core.errors import TrackerUnavailable
from core.sync.states_cache import MissingState, StatesCache
from core.tracker import StateGroup, TrackerState

P = "proj-1"


def states(in_progress: str, *extra: TrackerState) -> list[TrackerState]:
    return [
        TrackerState("s-approved", "Approved", StateGroup.UNSTARTED),
        TrackerState(in_progress, "In Progress", StateGroup.STARTED),
        TrackerState("s-review", "In Review", StateGroup.STARTED),
        TrackerState("s-blocked", "Blocked", StateGroup.STARTED),
        TrackerState("s-done", "Done", StateGroup.COMPLETED),
        TrackerState("s-cancelled", "Cancelled", StateGroup.CANCELLED),
        *extra,
    ]


class ScriptedStates:
    """Answers states() from a script: a list of states, or an error to raise."""

    def __init__(self, *answers: list[TrackerState] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def states(self, project_id: str) -> list[TrackerState]:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def cache(
    source: ScriptedStates,
    clock: ManualClock,
    ttl_s: float = 300,
    defaults: Mapping[str, str] | None = None,
) -> StatesCache:
    return StatesCache(source, clock, names=DEFAULT_STATE_NAMES, ttl_s=ttl_s, defaults=defaults)


async def test_a_stale_entry_self_heals_after_the_ttl() -> None:
    clock, source = ManualClock(), ScriptedStates(states("uuid-A"), states("uuid-B"))
    subject = cache(source, clock)
    assert (await subject.get(P)).id_for("in_progress") == "uuid-A"
    clock.advance(100)
    assert (await subject.get(P)).id_for("in_progress") == "uuid-A"
    assert source.calls == 1
    clock.advance(200)  # 300 s since the fetch
    assert (await subject.get(P)).id_for("in_progress") == "uuid-B"
    assert source.calls == 2


async def test_ttl_zero_keeps_the_first_set_for_the_process_lifetime() -> None:
    clock, source = ManualClock(), ScriptedStates(states("uuid-A"), states("uuid-B"))
    subject = cache(source, clock, ttl_s=0)
    await subject.get(P)
    clock.advance(10_000_000)
    assert (await subject.get(P)).id_for("in_progress") == "uuid-A"
    assert source.calls == 1


async def test_groups_and_logical_keys_come_from_the_same_fetch() -> None:
    subject = cache(ScriptedStates(states("uuid-A")), ManualClock())
    project = await subject.get(P)
    assert project.fetched
    assert subject.group_of("uuid-A") is StateGroup.STARTED
    assert subject.group_of("s-done") is StateGroup.COMPLETED
    assert StateGroup.COMPLETED.is_terminal and not StateGroup.STARTED.is_terminal
    assert subject.group_of("never-seen") is None
    assert subject.logical_of("s-approved") == "approved"
    assert subject.logical_of("never-seen") is None
    assert project.names["s-review"] == "In Review"


async def test_names_match_whatever_their_case() -> None:
    odd = [TrackerState("x", "in progress ", StateGroup.STARTED)]
    subject = cache(ScriptedStates(odd), ManualClock())
    assert (await subject.get(P)).id_for("in_progress") == "x"


async def test_a_failed_refresh_serves_the_stale_set_not_defaults() -> None:
    clock = ManualClock()
    source = ScriptedStates(states("uuid-A"), TrackerUnavailable("outage"))
    subject = cache(source, clock, defaults={"in_progress": "enduro-uuid"})
    await subject.get(P)
    clock.advance(1000)
    project = await subject.get(P)
    assert project.fetched and project.id_for("in_progress") == "uuid-A"
    assert subject.group_of("uuid-A") is StateGroup.STARTED
    assert subject.refresh_failures == 1
    await subject.get(P)  # a failure is not retried on every call
    assert source.calls == 2
    clock.advance(30)
    await subject.get(P)
    assert source.calls == 3


async def test_defaults_only_when_nothing_was_ever_fetched() -> None:
    clock = ManualClock()
    source = ScriptedStates(TrackerUnavailable("down"), states("uuid-A"))
    subject = cache(source, clock, defaults={"in_progress": "default-uuid"})
    project = await subject.get(P)
    assert not project.fetched
    assert project.id_for("in_progress") == "default-uuid"
    assert project.group_of("default-uuid") is None  # no group: callers fall back to keys
    assert subject.logical_of("default-uuid") == "in_progress"
    assert (await subject.get(P)).id_for("in_progress") == "uuid-A"  # defaults not cached


async def test_reload_fetches_now_and_keeps_the_set_if_it_fails() -> None:
    clock = ManualClock()
    source = ScriptedStates(states("uuid-A"), states("uuid-B"), TrackerUnavailable("down"))
    subject = cache(source, clock)
    await subject.get(P)
    await subject.reload(P)
    assert (await subject.get(P)).id_for("in_progress") == "uuid-B"
    await subject.reload()
    assert (await subject.get(P)).id_for("in_progress") == "uuid-B"
    assert source.calls == 3


async def test_a_missing_name_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    without_review = [s for s in states("uuid-A") if s.name != "In Review"]
    source = ScriptedStates(without_review)
    subject = cache(source, clock)
    caplog.set_level(logging.WARNING, logger="orch.states")
    for _ in range(3):
        await subject.get(P)
        clock.advance(301)
    assert source.calls == 3
    assert subject.missing_names() == [MissingState(P, "in_review", "In Review")]
    assert caplog.text.count("'In Review'") == 1
    assert (await subject.get(P)).id_for("in_review") is None


async def test_a_name_that_appears_is_no_longer_missing() -> None:
    clock = ManualClock()
    without_review = [s for s in states("uuid-A") if s.name != "In Review"]
    subject = cache(ScriptedStates(without_review, states("uuid-A")), clock)
    await subject.get(P)
    assert subject.missing_names()
    await subject.reload(P)
    assert subject.missing_names() == []
