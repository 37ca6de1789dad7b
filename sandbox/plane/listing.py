"""Plane's listing rules: offset cursors `per_page:page:is_prev`, `order_by` on any field,
`fields=` subsets. Errors carry the exact bodies Plane answers with."""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

MAX_PER_PAGE = 1000


class ListingError(Exception):
    """A request Plane refuses: `status` and `body` are what it answers."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


BAD_CURSOR = ListingError(400, {"detail": "Invalid cursor parameter."})
TOO_BIG = ListingError(400, {"detail": f"Invalid per_page value. Cannot exceed {MAX_PER_PAGE}."})
SERVER_ERROR = ListingError(500, {"error": "Something went wrong please try again later"})


@dataclass(frozen=True, slots=True)
class Window:
    per_page: int
    page: int


def window_of(query: Mapping[str, str]) -> Window:
    """The page asked for; the cursor's own size wins, as in Plane's paginator."""
    per_page = _per_page(query.get("per_page"))
    cursor = query.get("cursor")
    if cursor is None:
        return Window(per_page, 0)
    parts = cursor.split(":")
    if len(parts) != 3 or not all(_is_int(p) for p in parts):
        raise BAD_CURSOR
    size, page, is_prev = (int(p) for p in parts)
    if size < 1 or page < 0 or is_prev not in (0, 1):
        raise BAD_CURSOR
    if size > MAX_PER_PAGE:
        raise TOO_BIG
    return Window(size, page)


def envelope(
    rows: Sequence[T], window: Window, render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of `rows` in Plane's envelope; only the page's rows are rendered."""
    size, page = window.per_page, window.page
    total = len(rows)
    start = page * size
    results = [render(row) for row in rows[start : start + size]]
    return {
        "grouped_by": None,
        "sub_grouped_by": None,
        "total_count": total,
        "next_cursor": f"{size}:{page + 1}:0",
        "prev_cursor": f"{size}:{page - 1}:1",
        "next_page_results": start + size < total,
        "prev_page_results": page > 0,
        "count": len(results),
        "total_pages": math.ceil(total / size),
        "total_results": total,
        "extra_stats": None,
        "results": results,
    }


def ordered(
    rows: Sequence[T], order_by: str, fields: Container[str], value_of: Callable[[T, str], Any]
) -> list[T]:
    """Rows sorted by one field, `-` for descending; unknown fields fail like Plane (500).
    Nulls sort last ascending and first descending, as in PostgreSQL."""
    descending = order_by.startswith("-")
    name = order_by.lstrip("-")
    if name not in fields:
        raise SERVER_ERROR
    return sorted(rows, key=lambda row: _sort_key(value_of(row, name)), reverse=descending)


def subset(row: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Only the fields asked for (unknown names are ignored), in the row's order."""
    if not fields:
        return row
    wanted = {name.strip() for name in fields.split(",")}
    return {key: value for key, value in row.items() if key in wanted}


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def _per_page(raw: str | None) -> int:
    if raw is None:
        return MAX_PER_PAGE
    if not _is_int(raw) or int(raw) < 1:
        raise ListingError(400, {"detail": "Invalid per_page parameter."})
    if int(raw) > MAX_PER_PAGE:
        raise TOO_BIG
    return int(raw)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()
