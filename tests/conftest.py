"""Fixtures shared by every tier. Keep each one small; group them by the port they serve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from core.clock import ManualClock
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.ports import TaskStore
from storage.database import Database
from storage.tasks import SqliteTaskStore
from tests.fakes import InMemoryTaskStore, RecordingNotifier

# Property tests check behaviour, never speed: hypothesis's 200 ms deadline is a timed
# assert that fails at random on two shared cores (speed lives in bench/ as ratios).
settings.register_profile("orch", deadline=None)
settings.load_profile("orch")

# --- time ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


# --- storage ------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "orch.db"


@pytest.fixture
async def database(db_path: Path) -> AsyncIterator[Database]:
    """A migrated database on a real file, closed at teardown."""
    db = await Database.open(db_path)
    yield db
    await db.close()


@pytest.fixture(params=["memory", "sqlite"])
def task_store(request: pytest.FixtureRequest) -> TaskStore:
    """Every TaskStore implementation in turn: the contract tests run against each."""
    if request.param == "memory":
        return InMemoryTaskStore()
    return SqliteTaskStore(request.getfixturevalue("database"))


# --- services -----------------------------------------------------------------------


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def service(clock: ManualClock, notifier: RecordingNotifier) -> PipelineService:
    """The pipeline service on the default pipeline, over the in-memory store."""
    return PipelineService(InMemoryTaskStore(), DEFAULT_PIPELINE, clock, notifier)
