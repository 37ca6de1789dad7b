"""A look at a database file without changing it: `orch doctor` must not create one.

Opened read-only (`mode=ro`), never migrated; a missing file is reported, not made.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.errors import StorageError
from storage.database import load_migrations


@dataclass(frozen=True, slots=True)
class DatabaseReport:
    """What is there: does the file exist, its schema version, the newest orch knows."""

    path: str
    exists: bool
    schema_version: int
    latest_version: int
    folder_writable: bool

    @property
    def text(self) -> str:
        if not self.exists:
            where = Path(self.path).resolve().parent
            if not self.folder_writable:
                return f"{self.path} does not exist and {where} is not writable"
            return f"{self.path} does not exist yet; orch run creates it"
        if self.schema_version > self.latest_version:
            return (f"{self.path} has schema version {self.schema_version}, newer than this "
                    f"orch ({self.latest_version}): upgrade orch")
        behind = self.latest_version - self.schema_version
        pending = f", {behind} migrations to apply at start" if behind else ""
        return f"{self.path}, schema version {self.schema_version}{pending}"

    @property
    def ok(self) -> bool:
        if not self.exists:
            return self.folder_writable
        return self.schema_version <= self.latest_version


def inspect_database(path: str) -> DatabaseReport:
    """Report on the database at `path`, read-only; StorageError when it is unreadable."""
    latest = max(number for number, _, _ in load_migrations())  # numbers may have gaps
    file = Path(path)
    if not file.exists():
        folder = file.resolve().parent
        writable = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
        return DatabaseReport(path, False, 0, latest, writable)
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read database {path}: {exc}") from exc
    return DatabaseReport(path, True, version, latest, True)
