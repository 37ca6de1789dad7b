"""One project's listing, read within bounds.

An incremental walk reads the first page small (changes are few). When that page does
not reach the watermark (a bulk edit, or a long pause), it reads again from the start
with the largest page the tracker allows, and past `bulk_pages` of those it stops
cutting at the watermark: the walk has become a full scan, which costs no more and lets
the caller do what only a complete listing allows.

An incremental walk past its deadline (the tick's interval) finishes the page it has
and stops: the next tick starts again below the same watermark and skips the items this
one reconciled, so ticks never pile up behind one slow walk.

A listing that repeats a cursor, runs past `max_pages`, or returns more rows than a page
holds is broken: ListingBroken ends the walk (and the tick) with a counted error rather
than spending the whole budget on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from core.errors import TrackerError
from core.ports import TrackerReader
from core.tracker import ItemPage, WorkItem


class ListingBroken(TrackerError):
    """The tracker's listing cannot be walked to its end."""


class Walk:
    """Items of one project, newest change first; see the module docstring."""

    def __init__(self, tracker: TrackerReader, project_id: str, since: datetime | None, *,
                 first_page: int, big_page: int, bulk_pages: int, max_pages: int,
                 past_deadline: Callable[[], bool] = lambda: False) -> None:
        self._tracker = tracker
        self._project_id = project_id
        self._since = since
        self._first = first_page
        self._big = big_page
        self._bulk_pages = bulk_pages
        self._max_pages = max_pages
        self.full = since is None  # every item is read (no watermark cut)
        self.complete = False  # the listing was read to its end (or to the watermark)
        self.requests = 0
        self._past_deadline = past_deadline
        self.yielded = False  # stopped after a page because the tick ran out of time

    async def items(self) -> AsyncIterator[WorkItem]:
        seen: set[str] = set()
        if not self.full:
            page = await self._page(None, self._first)
            for item in page.items:
                if self._older(item):
                    self.complete = True
                    return
                seen.add(item.id)
                yield item
            if page.next_cursor is None:
                self.complete = True
                return
            if self._yield():
                return
        async for item in self._pages(seen):
            yield item

    async def _pages(self, seen: set[str]) -> AsyncIterator[WorkItem]:
        cursor: str | None = None
        cursors: set[str] = set()
        pages = 0
        while True:
            page = await self._page(cursor, self._big)
            pages += 1
            for item in page.items:
                if self._older(item):
                    self.complete = True
                    return
                if item.id not in seen:  # rows shift between offset pages
                    seen.add(item.id)
                    yield item
            if page.next_cursor is None:
                self.complete = True
                return
            if page.next_cursor in cursors or page.next_cursor == cursor:
                raise ListingBroken(f"the listing repeated its cursor {page.next_cursor!r}")
            if pages >= self._max_pages:
                raise ListingBroken(f"the listing ran past {self._max_pages} pages")
            if self._yield():
                return
            if not self.full and pages >= self._bulk_pages:
                self.full = True  # a bulk edit: read it all as a full scan would
            cursors.add(page.next_cursor)
            cursor = page.next_cursor

    def _yield(self) -> bool:
        """A long incremental walk finishes its page and leaves the rest to the next tick
        (whose re-read skips what this one did). A full scan never yields: it would
        start over next time and never end."""
        self.yielded = not self.full and self._past_deadline()
        return self.yielded

    def _older(self, item: WorkItem) -> bool:
        return not self.full and self._since is not None and item.updated_at < self._since

    async def _page(self, cursor: str | None, size: int) -> ItemPage:
        self.requests += 1
        page = await self._tracker.items_page(self._project_id, cursor=cursor, per_page=size)
        if len(page.items) > size:
            raise ListingBroken(f"a page of {len(page.items)} items where {size} were asked")
        return page
