"""A tracker is a configured source: outside its adapter's folder, and the settings that
configure it, core never spells a tracker's name (its name comes from the adapter)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ROOT / "core" / "integrations"
# Settings name their groups and keys after the adapter they configure (ORCH_PLANE_*).
CONFIGURES = {"core/config.py", "core/sync/config.py"}
TRACKERS = ("plane",)


def spelled(path: Path) -> list[str]:
    """String literals (docstrings aside) that name a tracker, as `line: text`."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(module)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr)}
    return [f"{n.lineno}: {n.value!r}" for n in ast.walk(module)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings
            and any(t in n.value.lower() for t in TRACKERS)]


def neutral() -> list[Path]:
    files = sorted(p for d in ("core", "bot") for p in (ROOT / d).rglob("*.py"))
    return [p for p in files if not p.is_relative_to(ADAPTERS)
            and str(p.relative_to(ROOT)) not in CONFIGURES
            and not p.is_relative_to(ROOT / "core" / "settings")]


@pytest.mark.parametrize("path", neutral(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_and_bot_never_spell_a_tracker(path: Path) -> None:
    assert spelled(path) == []


def test_the_check_sees_a_spelled_tracker(tmp_path: Path) -> None:
    leak = tmp_path / "leak.py"
    leak.write_text('"""Plane is fine in a docstring."""\nSOURCE = "plane"\n'
                    'def f(t):\n    return f"moved in Plane {t}"\n', encoding="utf-8")
    assert spelled(leak) == ["2: 'plane'", "4: 'moved in Plane '"]
