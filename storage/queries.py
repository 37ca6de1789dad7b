"""Named SQL queries, kept in `storage/queries/*.sql` and loaded once.

A file holds blocks that start with `-- name: some_query`; the block's text up to the
next name is the query.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def queries(module: str) -> dict[str, str]:
    """The named queries of storage/queries/<module>.sql."""
    text = (resources.files("storage") / "queries" / f"{module}.sql").read_text("utf-8")
    named: dict[str, str] = {}
    current: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("-- name:"):
            if current:
                named[current] = "\n".join(body).strip()
            current, body = line.split(":", 1)[1].strip(), []
        elif current:
            body.append(line)
    if current:
        named[current] = "\n".join(body).strip()
    return named
