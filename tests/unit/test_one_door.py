"""One door: only the pipeline service writes tasks; checked on the source with `ast`.

A task is written by TaskStore.create or TaskStore.compare_and_set, both built from the
write vocabulary (TaskDraft, TaskChange, EventDraft). Outside the pipeline service, the
port that defines them and the SQLite adapter, nothing may call the one, import the
other, or reach into another object's private `_store`; and SQL that writes tasks or
their events lives in storage/queries/tasks.sql alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from tests.fakes import InMemoryTaskStore, RecordingNotifier

ROOT = Path(__file__).resolve().parents[2]
THE_DOOR = "core/pipeline/service.py"
WRITE_VOCABULARY = {"TaskDraft", "TaskChange", "EventDraft"}
# Where the vocabulary may be named: the door, the port that defines it, the adapter.
MAY_NAME_IT = {THE_DOOR, "core/ports/__init__.py", "core/ports/tasks.py", "storage/tasks.py"}
WRITES_TASKS = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(tasks|task_events)\b", re.I)


def code() -> list[Path]:
    return sorted(p for d in ("core", "app", "bot", "storage", "sandbox", "bench")
                  for p in (ROOT / d).rglob("*.py"))


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def task_writes(path: Path) -> list[str]:
    """What in the file writes tasks past the door, as `line: what`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "compare_and_set"):
            found.append(f"{node.lineno}: calls compare_and_set")
        elif isinstance(node, ast.ImportFrom):
            named = WRITE_VOCABULARY & {alias.name for alias in node.names}
            found.extend(f"{node.lineno}: imports {name}" for name in sorted(named))
        elif (isinstance(node, ast.Attribute) and node.attr == "_store"
              and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
            found.append(f"{node.lineno}: reaches into another object's _store")
    return found


@pytest.mark.parametrize("path", [p for p in code() if rel(p) not in MAY_NAME_IT], ids=rel)
def test_nothing_but_the_pipeline_service_writes_tasks(path: Path) -> None:
    assert task_writes(path) == []


def test_the_door_is_where_the_writes_are() -> None:
    # The check above looks for the right thing: the door itself is full of it.
    found = task_writes(ROOT / THE_DOOR)
    assert any("compare_and_set" in f for f in found)
    assert {f.split("imports ")[1] for f in found if "imports" in f} == WRITE_VOCABULARY


def test_the_check_sees_a_side_door(tmp_path: Path) -> None:
    side = tmp_path / "side.py"
    side.write_text(
        "from core.ports import TaskChange\n"
        "async def sneak(service, change, event, at):\n"
        "    await service._store.compare_and_set(1, 1, change, event, at)\n",
        encoding="utf-8",
    )
    assert task_writes(side) == [
        "1: imports TaskChange", "3: calls compare_and_set",
        "3: reaches into another object's _store"]


def test_only_the_task_queries_write_tasks() -> None:
    writers = [rel(p) for p in sorted((ROOT / "storage").rglob("*.sql"))
               if "migrations" not in p.parts and WRITES_TASKS.search(p.read_text("utf-8"))]
    assert writers == ["storage/queries/tasks.sql"]


def test_the_service_shows_no_store() -> None:
    store = InMemoryTaskStore()
    service = PipelineService(store, DEFAULT_PIPELINE, ManualClock(), RecordingNotifier())
    public = {name for name, value in vars(service).items()
              if not name.startswith("_") and value is store}
    assert public == set()
