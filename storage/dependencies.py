"""SQLite adapter of core's DependencyStore: the task_deps edges."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime

from core.clock import utc_iso
from core.deps.service import DepLink, Satisfied
from core.sync.records import ItemBlocker
from storage.database import Database, Tx
from storage.queries import queries

Q = queries("dependencies")


class SqliteDependencyStore:
    """Dependency edges in SQLite; `release_done` reports each satisfied edge once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            return await _insert(tx, task_id, depends_on, source, at)

    async def remove(self, task_id: int, depends_on: int) -> bool:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(
                Q["delete_dep"], {"task_id": task_id, "depends_on": depends_on}
            )
        return row is not None

    async def replace(
        self, task_id: int, source: str, depends_on: Collection[int], at: datetime
    ) -> tuple[list[int], list[int]]:
        wanted = set(depends_on)
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(
                Q["deps_from_source"], {"task_id": task_id, "source": source}
            )
            present = {row[0] for row in rows}
            removed = [dep for dep in sorted(present - wanted)
                       if await _delete_from(tx, task_id, dep, source)]
            added = [dep for dep in sorted(wanted - present)
                     if await _insert(tx, task_id, dep, source, at)]
        return added, removed

    async def links(self, task_id: int) -> tuple[list[DepLink], list[DepLink]]:
        async with self._db.read() as tx:
            ups = await tx.fetch_all(Q["depends_on"], {"task_id": task_id})
            downs = await tx.fetch_all(Q["dependents"], {"task_id": task_id})
        return [_link(r) for r in ups], [_link(r) for r in downs]

    async def edges(self) -> list[tuple[int, int]]:
        rows = await self._db.fetch_all(Q["all_edges"])
        return [(row[0], row[1]) for row in rows]

    async def release_done(self, at: datetime) -> list[Satisfied]:
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(Q["satisfy_done"], {"at": utc_iso(at)})
            by_task: dict[int, list[int]] = {}
            for row in rows:
                by_task.setdefault(row["task_id"], []).append(row["depends_on"])
            items: dict[int, list[str]] = {}
            for row in await tx.fetch_all(Q["report_released_items"], {"at": utc_iso(at)}):
                items.setdefault(row["task_id"], []).append(row["item_key"])
            return [await _satisfied(tx, task_id, by_task.get(task_id, []),
                                     items.get(task_id, []))
                    for task_id in sorted({*by_task, *items})]

    async def replace_items(self, task_id: int, blockers: Collection[ItemBlocker],
                            at: datetime) -> tuple[list[str], list[str]]:
        """Make the task's item dependencies exactly `blockers`: (added, removed) ids."""
        wanted = {b.item_id: b for b in blockers}
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(Q["item_deps_of_task"], {"task_id": task_id})
            present = {row[0] for row in rows}
            for item_id in sorted(present - set(wanted)):
                await tx.execute(Q["delete_item_dep"], {"task_id": task_id, "item_id": item_id})
            for blocker in wanted.values():
                await tx.execute(Q["upsert_item_dep"], {
                    "task_id": task_id, "item_id": blocker.item_id, "item_key": blocker.key,
                    "item_group": blocker.group, "released": blocker.released,
                    "at": utc_iso(at)})
        return sorted(set(wanted) - present), sorted(present - set(wanted))

    async def open_item_blockers(self) -> set[str]:
        return {row[0] for row in await self._db.fetch_all(Q["open_item_blockers"])}

    async def item_moved(self, item_id: str, group: str, released: bool, at: datetime) -> None:
        params = {"item_id": item_id, "item_group": group, "released": released,
                  "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["item_moved"], params)

    async def unmet(self, task_ids: Collection[int]) -> dict[int, list[str]]:
        rows = await self._db.fetch_all(Q["unmet_of_tasks"], {"ids": json.dumps(list(task_ids))})
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(row["task_id"], []).append(row["key"])
        return found


async def _insert(tx: Tx, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
    row = await tx.fetch_one(
        Q["insert_dep"],
        {"task_id": task_id, "depends_on": depends_on, "source": source, "at": utc_iso(at)},
    )
    return row is not None


async def _delete_from(tx: Tx, task_id: int, depends_on: int, source: str) -> bool:
    params = {"task_id": task_id, "depends_on": depends_on, "source": source}
    return await tx.fetch_one(Q["delete_dep_from_source"], params) is not None


async def _satisfied(tx: Tx, task_id: int, deps: list[int], items: list[str]) -> Satisfied:
    unmet = await tx.fetch_one(Q["unmet_count"], {"task_id": task_id})
    keys = list(items)
    for dep in deps:
        row = await tx.fetch_one(Q["task_key"], {"id": dep})
        keys.append(row[0] if row else f"#{dep}")
    return Satisfied(task_id, tuple(sorted(keys)), unmet is not None and unmet[0] == 0)


def _link(row: sqlite3.Row) -> DepLink:
    return DepLink(row["id"], row["key"], row["stage"], row["source"])
