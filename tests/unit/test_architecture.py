"""The layering rules of DESIGN §3, checked on the source with `ast`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Upper-case keywords only: "select a task from the list" is English, not SQL.
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX)"
    r"|PRAGMA\s+\w+)\b"
)


def sources(package: str, *, skip: str | None = None) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if skip is None or not f.is_relative_to(ROOT / skip)]


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(path: Path) -> set[str]:
    """Top-level names of every module imported anywhere in the file, functions included."""
    names: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _dynamic_import(node):
            names.add(node.args[0].value.split(".")[0])  # type: ignore[attr-defined]
    return names


def _dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    first = call.args[0] if call.args else None
    return name in ("import_module", "__import__") and (
        isinstance(first, ast.Constant) and isinstance(first.value, str)
    )


def sql_strings(path: Path) -> list[str]:
    return [
        node.value
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


CORE = sources("core", skip="core/integrations")
BOT = sources("bot")
STORAGE = sources("storage")


ALL_CORE = sources("core")
APP = sources("app")

# bot/ reaches storage only through app's wiring; these modules still hold a store directly.
BOT_STORAGE_LEFT: set[str] = set()


def test_the_walk_sees_the_packages() -> None:
    assert ROOT / "core" / "pipeline" / "stages.py" in CORE
    assert ROOT / "app" / "runtime.py" in APP
    assert ROOT / "storage" / "database.py" in STORAGE
    assert not any(p.is_relative_to(ROOT / "core" / "integrations") for p in CORE)


@pytest.mark.parametrize("path", CORE, ids=rel)
def test_core_domain_never_imports_telegram_httpx_or_aiosqlite(path: Path) -> None:
    assert imported(path) & {"telegram", "httpx", "aiosqlite"} == set()


@pytest.mark.parametrize("path", ALL_CORE, ids=rel)
def test_core_never_imports_the_outer_layers(path: Path) -> None:
    assert imported(path) & {"bot", "storage", "app", "sandbox"} == set()


@pytest.mark.parametrize("path", BOT, ids=rel)
def test_bot_never_imports_app_or_the_sandbox(path: Path) -> None:
    assert imported(path) & {"app", "sandbox"} == set()


@pytest.mark.parametrize("path", [p for p in BOT if rel(p) not in BOT_STORAGE_LEFT], ids=rel)
def test_bot_reaches_storage_only_through_app(path: Path) -> None:
    assert "storage" not in imported(path)


@pytest.mark.parametrize("path", STORAGE, ids=rel)
def test_storage_never_imports_the_outer_layers(path: Path) -> None:
    assert imported(path) & {"bot", "app", "sandbox"} == set()


@pytest.mark.parametrize("path", BOT, ids=rel)
def test_bot_never_imports_a_database_driver(path: Path) -> None:
    assert imported(path) & {"aiosqlite", "sqlite3"} == set()


@pytest.mark.parametrize("path", BOT, ids=rel)
def test_bot_never_contains_sql(path: Path) -> None:
    assert sql_strings(path) == []


def test_bot_holds_no_sql_files() -> None:
    assert list((ROOT / "bot").rglob("*.sql")) == []


@pytest.mark.parametrize("path", STORAGE, ids=rel)
def test_storage_never_imports_telegram(path: Path) -> None:
    assert "telegram" not in imported(path)


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def later():\n"
        "    import httpx.client\n"
        "    from telegram.ext import Application\n"
        "    importlib.import_module('aiosqlite')\n"
        "    return 'SELECT id FROM tasks WHERE stage = ?'\n"
        "TEXT = 'Select a task from the list'\n",
        encoding="utf-8",
    )

    assert imported(bad) == {"httpx", "telegram", "aiosqlite"}
    assert sql_strings(bad) == ["SELECT id FROM tasks WHERE stage = ?"]
