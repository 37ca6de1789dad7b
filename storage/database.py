"""The one aiosqlite connection orch owns, its transactions and its migrations.

Every statement goes through one asyncio lock: with a single shared connection, a
statement issued while another coroutine's transaction is open would silently become
part of it. Transactions are `BEGIN IMMEDIATE`, so a writer never upgrades a read lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from core.errors import StorageError

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")


class IntegrityViolation(StorageError):
    """A schema invariant refused the write (unique index, check, foreign key)."""


class AlreadyApplied(StorageError):
    """A rider found its mark already set: what it rides along with happened before."""


@dataclass
class Rider:
    """One statement that joins the next write transaction of the current context.

    An inbox update is marked handled this way in the same transaction as the change its
    handler causes, without every service on the way having to know about the inbox.
    The statement must change exactly one row, else the transaction is rolled back. It
    rides only transactions of `database` (the one its statement is about), when given.
    """

    sql: str
    params: Params
    done: bool = False
    database: object | None = None


_RIDER: ContextVar[Rider | None] = ContextVar("orch_db_rider", default=None)
# The transaction an `atomic()` block holds open, with its database and the task that
# opened it: writes and reads of that task on that database inside the block join it;
# another task (even one started inside the block, which inherits the context) does not,
# and waits for the lock like everyone else; another database is not part of it at all.
_OPEN: ContextVar[tuple[object, object, Tx] | None] = ContextVar("orch_db_open", default=None)


@contextmanager
def riding(rider: Rider) -> Iterator[Rider]:
    """Within the block, the first committed write transaction carries `rider`."""
    token = _RIDER.set(rider)
    try:
        yield rider
    finally:
        _RIDER.reset(token)


class Tx:
    """Statements inside one transaction; only valid within `Database.transaction()`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        async with _translated():
            cursor = await self._conn.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count

    async def insert(self, sql: str, params: Params = ()) -> int:
        async with _translated():
            cursor = await self._conn.execute(sql, params)
            rowid = cursor.lastrowid or 0
            await cursor.close()
            return rowid

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with _translated():
            async with self._conn.execute(sql, params) as cursor:
                return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with _translated():
            async with self._conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

    async def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        async with _translated():
            await self._conn.executemany(sql, rows)


class Database:
    """Owns the connection: WAL, busy timeout, foreign keys, serialised transactions."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True) -> Database:
        """Open (creating if needed) the database file and bring its schema up to date."""
        try:
            # a first plain open: aiosqlite's worker thread outlives a failed connect and
            # reports on a loop that may be closed by then (a stray traceback at exit)
            await asyncio.to_thread(_probe, str(path))
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, str(path))
        try:
            await db._configure()
            if migrate:
                await db.migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def _configure(self) -> None:
        async with _translated():
            for pragma in (
                "journal_mode = WAL",
                "busy_timeout = 5000",
                "foreign_keys = ON",
                "synchronous = NORMAL",
                "cache_size = -32768",  # KiB: the claim's indexes stay in memory at 100k jobs
            ):
                await self._conn.execute(f"PRAGMA {pragma}")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            async with self._lock:
                await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One serialised write transaction; rolled back if the block raises. Inside an
        `atomic()` block of the same task it is part of that block's transaction."""
        if (joined := self._joined()) is not None:
            # a savepoint: a block that fails undoes its own writes, not the whole unit
            async with _translated():
                await self._conn.execute("SAVEPOINT joined")
            try:
                yield joined
            except BaseException:
                await self._conn.execute("ROLLBACK TO joined")
                await self._conn.execute("RELEASE joined")
                raise
            async with _translated():
                await self._conn.execute("RELEASE joined")
            return
        async with self._lock:
            async with _translated():
                await self._conn.execute("BEGIN IMMEDIATE")
            rider = _RIDER.get()
            if rider is not None and rider.database not in (None, self):
                rider = None  # about another database: it waits for one of those
            try:
                yield Tx(self._conn)
                if rider is not None and not rider.done:
                    await _ride(Tx(self._conn), rider)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            async with _translated():
                await self._conn.execute("COMMIT")
            if rider is not None:
                rider.done = True

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Every write (and read) of this task within the block is one transaction, with
        the rider if there is one: a change and the reply that reports it commit together
        or not at all. Keep the block to database work: it holds the connection."""
        if self._joined() is not None:
            yield
            return
        async with self.transaction() as tx:
            token = _OPEN.set((self, asyncio.current_task(), tx))
            try:
                yield
            finally:
                _OPEN.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """Serialised reads outside any write transaction (autocommit)."""
        if (joined := self._joined()) is not None:
            yield joined
            return
        async with self._lock:
            yield Tx(self._conn)

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self.read() as tx:
            return await tx.fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self.read() as tx:
            return await tx.fetch_all(sql, params)

    async def schema_version(self) -> int:
        row = await self.fetch_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self, *, upto: int | None = None) -> int:
        """Apply every numbered migration not applied yet, in order (only those numbered
        up to `upto`, when given: upgrade tests start from an older schema).

        Numbers are reserved per change, so they may have gaps and a lower one may land
        after a higher one: what was applied is a set (`schema_migrations`), not a level.
        PRAGMA user_version keeps the highest number applied.
        """
        done = await self._applied_migrations()
        applied = 0
        for number, name, sql in load_migrations():
            if number in done or (upto is not None and number > upto):
                continue
            async with self.transaction() as tx:
                await _run_script(tx, sql)
                await tx.execute(_RECORD_MIGRATION, (number,))
                version = max(number, *done) if done else number
                await tx.execute(f"PRAGMA user_version = {version:d}")
            done.add(number)
            log.info("applied migration %s", name)
            applied += 1
        return applied

    async def _applied_migrations(self) -> set[int]:
        current = await self.schema_version()
        async with self.transaction() as tx:
            await tx.execute(_MIGRATIONS_TABLE)
            rows = await tx.fetch_all("SELECT number FROM schema_migrations")
            if not rows and current:  # a file from before the table: 1..N were applied
                await tx.execute_many(_RECORD_MIGRATION, [(n,) for n in range(1, current + 1)])
                return set(range(1, current + 1))
        return {row[0] for row in rows}

    def _joined(self) -> Tx | None:
        """The transaction of the current task's `atomic()` block on this database."""
        held = _OPEN.get()
        if held is None or held[0] is not self or held[1] is not asyncio.current_task():
            return None
        return held[2]

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the database thread inside one write transaction: one hop from the
        loop for work that would otherwise cross to the thread once per statement (the
        claim). `fn` must be quick and must not touch the transaction itself."""
        if self._joined() is not None:
            raise StorageError("Database.call runs a transaction of its own: not in atomic()")
        async with self._lock, _translated():
            # aiosqlite's own one-hop runner; it is untyped
            result: T = await self._conn._execute(  # type: ignore[no-untyped-call]
                _in_transaction, self._conn._conn, fn)
            return result


def _probe(path: str) -> None:
    sqlite3.connect(path).close()


async def _ride(tx: Tx, rider: Rider) -> None:
    if await tx.execute(rider.sql, rider.params) != 1:
        raise AlreadyApplied("the rider's mark was set already: not applying twice")


def load_migrations() -> list[tuple[int, str, str]]:
    """Every `NNNN_name.sql` in storage/migrations, as (number, name, sql), in order.

    Numbers are reserved per change ahead of time, so main may briefly lack one: a gap
    is allowed, a number used twice is not. Changes that reserve numbers are written
    against the same base, so a lower number landing after a higher one is independent
    of it, and is applied to a database that has the higher one (schema_migrations)."""
    folder = resources.files("storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    # numbers are reserved per change, so gaps are allowed; a number used twice is not
    if len(set(numbers)) != len(numbers):
        raise StorageError(f"migration numbers must be unique, found {numbers}")
    return found


_MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY)"
_RECORD_MIGRATION = "INSERT INTO schema_migrations (number) VALUES (?)"


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


async def _run_script(tx: Tx, script: str) -> None:
    # executescript would COMMIT our transaction; split on ';' at line ends instead.
    for statement in _statements(script):
        await tx.execute(statement)


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    buffer: list[str] = []
    statements: list[str] = []
    for line in lines:
        buffer.append(line)
        if line.rstrip().endswith(";") and sqlite3.complete_statement("\n".join(buffer)):
            statements.append("\n".join(buffer).strip())
            buffer = []
    if "".join(buffer).strip():
        statements.append("\n".join(buffer).strip())
    return statements


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise IntegrityViolation(str(exc)) from exc
    except sqlite3.Error as exc:
        raise StorageError(str(exc)) from exc
    except ValueError as exc:
        # aiosqlite raises ValueError on a closed connection
        raise StorageError(str(exc)) from exc
