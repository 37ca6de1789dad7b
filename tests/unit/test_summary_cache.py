"""The section cache on its own: revisions in a dict, builders that count their calls."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.summary.cache import Section, SectionCache


class Counters:
    """A revision source whose counters the test moves, as triggers would."""

    def __init__(self) -> None:
        self.values = {"tasks": 1, "runs": 1}
        self.reads = 0

    async def read(self) -> Mapping[str, int]:
        self.reads += 1
        return dict(self.values)


class Builder:
    """Builds "<name> v<n>"; `gate` holds every build until the test opens it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return f"{self.name} v{self.calls}"


@pytest.fixture
def counters() -> Counters:
    return Counters()


@pytest.fixture
def built() -> dict[str, Builder]:
    return {name: Builder(name) for name in ("core", "progress", "live")}


@pytest.fixture
def cache(counters: Counters, clock: ManualClock, built: dict[str, Builder]) -> SectionCache:
    cache = SectionCache(counters, clock)
    cache.add(Section("core", built["core"], ("tasks",)))
    cache.add(Section("progress", built["progress"], ("runs",), inline=True))
    return cache


async def test_the_first_request_builds_and_the_next_are_hits(
        cache: SectionCache, built: dict[str, Builder]) -> None:
    first = await cache.get()
    second = await cache.get()
    third = await cache.get()

    assert (first.status, second.status, third.status) == ("miss", "hit", "hit")
    assert second.parts == {"core": "core v1", "progress": "progress v1"}
    assert first.revision == second.revision == third.revision
    assert (built["core"].calls, built["progress"].calls) == (1, 1)


async def test_a_moved_revision_serves_the_old_data_then_the_new(
        cache: SectionCache, counters: Counters, built: dict[str, Builder],
        clock: ManualClock) -> None:
    first = await cache.get()
    clock.advance(3)
    counters.values["tasks"] += 1

    stale = await cache.get()
    assert (stale.status, stale.parts["core"]) == ("stale", "core v1")
    assert stale.built_at == first.built_at  # the handler says "as of 3 s ago"
    await cache.wait_refreshed()
    fresh = await cache.get()

    assert (fresh.status, fresh.parts["core"]) == ("hit", "core v2")
    assert fresh.revision != first.revision
    assert built["progress"].calls == 1  # only the moved section was rebuilt


async def test_the_progress_section_refreshes_within_the_request(
        cache: SectionCache, counters: Counters, built: dict[str, Builder]) -> None:
    await cache.get()
    counters.values["runs"] += 5

    answer = await cache.get()

    assert (answer.status, answer.parts["progress"]) == ("hit", "progress v2")
    assert built["core"].calls == 1


async def test_a_forced_refresh_rebuilds_everything_now(
        cache: SectionCache, built: dict[str, Builder]) -> None:
    await cache.get()
    forced = await cache.get(fresh=True)
    assert forced.status == "miss" and forced.parts["core"] == "core v2"
    assert built["progress"].calls == 2


async def test_fifty_requests_during_a_cold_build_share_it(
        cache: SectionCache, built: dict[str, Builder]) -> None:
    built["core"].gate = asyncio.Event()
    requests = [asyncio.create_task(cache.get()) for _ in range(50)]
    await asyncio.sleep(0)
    built["core"].gate.set()
    answers = await asyncio.gather(*requests)

    assert {a.parts["core"] for a in answers} == {"core v1"}
    assert built["core"].calls == 1 and cache.answers["miss"] == 50


async def test_fifty_requests_during_a_refresh_share_one_rebuild(
        cache: SectionCache, counters: Counters, built: dict[str, Builder]) -> None:
    await cache.get()
    built["core"].gate = asyncio.Event()
    counters.values["tasks"] += 1

    answers = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert {a.status for a in answers} == {"stale"}
    built["core"].gate.set()
    await cache.wait_refreshed()

    assert built["core"].calls == 2  # the cold build and one refresh
    assert (await cache.get()).parts["core"] == "core v2"


async def test_a_write_during_a_rebuild_is_seen_by_the_next_request(
        cache: SectionCache, counters: Counters, built: dict[str, Builder]) -> None:
    await cache.get()
    built["core"].gate = asyncio.Event()
    counters.values["tasks"] += 1
    assert (await cache.get()).status == "stale"
    await asyncio.sleep(0)  # the refresh has read the revisions and is building
    counters.values["tasks"] += 1  # a write lands meanwhile
    built["core"].gate.set()
    await cache.wait_refreshed()

    assert (await cache.get()).status == "stale"  # built at the older revision
    await cache.wait_refreshed()
    assert (await cache.get()).status == "hit"


async def test_a_section_without_a_revision_is_rebuilt_every_time(
        cache: SectionCache, built: dict[str, Builder]) -> None:
    cache.add(Section("live", built["live"]))
    await cache.get()
    answer = await cache.get()
    assert (answer.status, answer.parts["live"]) == ("hit", "live v2")


async def test_a_fingerprint_gates_in_memory_state(cache: SectionCache,
                                                   built: dict[str, Builder]) -> None:
    state = {"sent": 0}
    cache.add(Section("live", built["live"], fingerprint=lambda: state["sent"]))
    await cache.get()
    assert (await cache.get()).status == "hit"
    state["sent"] += 1
    assert (await cache.get()).status == "stale"


async def test_data_that_holds_until_a_moment_is_stale_after_it(
        cache: SectionCache, clock: ManualClock, built: dict[str, Builder]) -> None:
    until = clock.now() + timedelta(seconds=30)
    cache.add(Section("live", built["live"], ("tasks",), until=lambda _: until))
    await cache.get()
    clock.advance(29)
    assert (await cache.get()).status == "hit"
    clock.advance(1)
    assert (await cache.get()).status == "stale"


async def test_a_failing_section_keeps_the_rest_and_is_retried(
        cache: SectionCache, counters: Counters, built: dict[str, Builder]) -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database is busy")
        return "flaky ok"

    cache.add(Section("flaky", flaky, ("tasks",)))
    first = await cache.get()
    assert first.parts["flaky"] is None and first.parts["core"] == "core v1"
    assert (await cache.get()).status == "stale"
    await cache.wait_refreshed()
    assert (await cache.get()).parts["flaky"] == "flaky ok"
