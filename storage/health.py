"""Can the database file take a write right now? Asked on a connection of its own, so a
stuck probe never holds orch's connection (and its lock) hostage."""

from __future__ import annotations

import sqlite3

import aiosqlite


async def probe_writable(path: str, timeout_s: float) -> str | None:
    """None when a write lock could be taken (and given back) within `timeout_s`, else
    what went wrong: "database is locked" when another writer holds it."""
    try:
        async with aiosqlite.connect(path, timeout=timeout_s, isolation_level=None) as conn:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("ROLLBACK")
    except (sqlite3.Error, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None
