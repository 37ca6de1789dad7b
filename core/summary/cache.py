"""A summary made of sections, each cached until its own revision moves.

A Section says how to build its data and what its data depends on: revision counters in
the database (`watches`, bumped by triggers in the same transaction as the write) and/or
a `fingerprint` of in-memory state. A request reads the current revisions once, then:

- nothing cached yet, or a forced refresh: build (every section), answer "miss";
- every section's revision matches what it was built at: answer "hit";
- some moved: sections marked `inline` (cheap and fast-moving, e.g. running jobs) and
  sections with no revision at all are rebuilt within the request; if others moved the
  previous data is served at once ("stale") while one background refresh rebuilds only
  those, so the next request gets it.

Concurrent requests share one rebuild: a cold start hit by 50 requests builds once.
A section may also say until when its data holds (`until`, e.g. the end of a backoff):
time alone never invalidates anything else. Nothing here knows SQL or Telegram.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import Clock
from core.ports import RevisionSource

log = logging.getLogger(__name__)

MISS, HIT, STALE = "miss", "hit", "stale"
_FAILED = ("failed",)  # a revision no section ever has


@dataclass(frozen=True)
class Section:
    """One part of a summary and what its data depends on."""

    name: str
    build: Callable[[], Awaitable[Any]]
    watches: tuple[str, ...] = ()
    fingerprint: Callable[[], Hashable] | None = None
    inline: bool = False  # cheap: rebuilt in the request when its revision moves
    until: Callable[[Any], datetime | None] | None = None

    @property
    def gated(self) -> bool:
        """False: nothing says when the data changes, so it is rebuilt every time."""
        return bool(self.watches) or self.fingerprint is not None

    def revision(self, counters: Mapping[str, int]) -> Hashable:
        marks = tuple(counters.get(name, 0) for name in self.watches)
        return marks, self.fingerprint() if self.fingerprint else None


@dataclass(frozen=True)
class Part:
    value: Any
    revision: Hashable
    built_at: datetime
    until: datetime | None
    generation: int


@dataclass(frozen=True)
class Cached:
    """What a request gets: the data of every section and how fresh it is."""

    parts: Mapping[str, Any]
    status: str
    revision: str
    built_at: datetime  # when the oldest part was built


class SectionCache:
    """Sections cached by revision; see the module docstring."""

    def __init__(self, revisions: RevisionSource, clock: Clock,
                 on_status: Callable[[str], None] | None = None) -> None:
        self._revisions = revisions
        self._clock = clock
        self._on_status = on_status
        self._sections: dict[str, Section] = {}
        self._parts: dict[str, Part] = {}
        self._rebuild: asyncio.Task[None] | None = None
        self._generation = 0
        self.builds: Counter[str] = Counter()  # per section, for tests and metrics
        self.answers: Counter[str] = Counter()  # miss / hit / stale

    def add(self, section: Section) -> None:
        if section.name in self._sections:
            raise ValueError(f"a section named {section.name!r} exists already")
        self._sections[section.name] = section

    def replace(self, section: Section) -> None:
        """Swap a section for a new definition; it is rebuilt on the next request."""
        self._sections[section.name] = section
        self._parts.pop(section.name, None)

    @property
    def sections(self) -> Sequence[Section]:
        return tuple(self._sections.values())

    async def get(self, *, fresh: bool = False) -> Cached:
        """The summary: rebuilt when forced or empty, else from the cache (see above)."""
        if fresh:
            await self._shared(self.sections, wait_current=True)
            return self._answer(MISS)
        if not self._complete():
            await self._shared(self.sections, wait_current=False)
            return self._answer(MISS)
        counters = await self._revisions.read()
        moved = self._moved(counters)
        now_ones = [s for s in moved if s.inline or not s.gated]
        later = [s for s in moved if s not in now_ones]
        if now_ones:
            await self._build(now_ones, counters, self._next_generation())
        if later:
            self._refresh_in_background(later)
            return self._answer(STALE)
        return self._answer(HIT)

    async def wait_refreshed(self) -> None:
        """Until no rebuild is running (tests and the benchmark)."""
        while self._rebuild is not None:
            await asyncio.shield(self._rebuild)

    async def aclose(self) -> None:
        if self._rebuild is not None:
            self._rebuild.cancel()
            await asyncio.gather(self._rebuild, return_exceptions=True)

    # --- internals -------------------------------------------------------------------

    def _complete(self) -> bool:
        return all(name in self._parts for name in self._sections)

    def _moved(self, counters: Mapping[str, int]) -> list[Section]:
        now = self._clock.now()
        moved = []
        for section in self._sections.values():
            part = self._parts.get(section.name)
            if (part is None or not section.gated or part.revision != section.revision(counters)
                    or (part.until is not None and now >= part.until)):
                moved.append(section)
        return moved

    async def _shared(self, sections: Iterable[Section], *, wait_current: bool) -> None:
        """Join the rebuild in flight, or start one; `wait_current` (a forced refresh)
        first lets one that began earlier finish, then rebuilds everything again."""
        if self._rebuild is not None:
            await asyncio.shield(self._rebuild)
            if not wait_current and self._complete():
                return
        if self._rebuild is None:
            self._start(list(sections))
        assert self._rebuild is not None
        await asyncio.shield(self._rebuild)

    def _refresh_in_background(self, sections: list[Section]) -> None:
        if self._rebuild is None:
            self._start(sections)

    def _start(self, sections: list[Section]) -> None:
        names = [s.name for s in sections]
        task = asyncio.get_running_loop().create_task(self._run(names),
                                                      name="summary-rebuild")
        task.add_done_callback(self._finished)
        self._rebuild = task

    def _finished(self, task: asyncio.Task[None]) -> None:
        if self._rebuild is task:
            self._rebuild = None
        if not task.cancelled() and task.exception() is not None:
            log.error("summary rebuild failed", exc_info=task.exception())

    async def _run(self, names: list[str]) -> None:
        generation = self._next_generation()
        counters = await self._revisions.read()  # before building: a write meanwhile moves it
        wanted = set(names) | {s.name for s in self._moved(counters)}
        await self._build([s for s in self._sections.values() if s.name in wanted], counters,
                          generation)

    async def _build(self, sections: Sequence[Section], counters: Mapping[str, int],
                     generation: int) -> None:
        for section in sections:
            revision = section.revision(counters)
            try:
                value = await section.build()
            except Exception:
                log.exception("summary section %s failed; the previous one is kept",
                              section.name)
                if section.name not in self._parts:  # shown empty, retried next time
                    self._keep(section.name, Part(None, _FAILED, self._clock.now(), None, 0))
                continue
            self.builds[section.name] += 1
            until = section.until(value) if section.until else None
            self._keep(section.name, Part(value, revision, self._clock.now(), until, generation))

    def _keep(self, name: str, part: Part) -> None:
        # an older build that finishes late never replaces a newer one
        current = self._parts.get(name)
        if current is None or part.generation >= current.generation:
            self._parts[name] = part

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def _answer(self, status: str) -> Cached:
        self.answers[status] += 1
        if self._on_status is not None:
            self._on_status(status)
        parts = {name: self._parts[name] for name in self._sections if name in self._parts}
        built = min((p.built_at for p in parts.values()), default=self._clock.now())
        return Cached({n: p.value for n, p in parts.items()}, status, _label(parts), built)


def _label(parts: Mapping[str, Part]) -> str:
    """A short stable label of the revisions served (the X-Orch-Revision header)."""
    text = repr(sorted((name, part.revision) for name, part in parts.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
