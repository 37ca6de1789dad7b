"""The settings the docs list are exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import settings_doc
from core.config import AGENT_RUN_VARIABLES, Settings
from core.settings.checks import load
from core.settings.declare import declared

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bORCH_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
DECLARED = {spec.env for _, spec in declared(Settings)}


def names_in(paths: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in paths:
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_docs_settings_md_is_generated_from_the_declarations() -> None:
    on_disk = settings_doc.PATH.read_text(encoding="utf-8")

    assert on_disk == settings_doc.render(), "docs/settings.md is stale: make settings-doc"


def test_the_settings_table_lists_every_declared_setting_once() -> None:
    table = settings_doc.render()
    listed = re.findall(r"^\| `(ORCH_[A-Z0-9_]+)` \|", table, flags=re.MULTILINE)

    assert sorted(listed) == sorted(DECLARED)
    assert len(listed) == len(set(listed))


def test_the_code_reads_no_setting_that_is_not_declared() -> None:
    sources = [p for package in ("app", "bot", "core", "storage")
               for p in (ROOT / package).rglob("*.py")]
    stray = {name: where for name, where in names_in(sources).items()
             if name not in DECLARED and name not in AGENT_RUN_VARIABLES}

    assert stray == {}


def test_the_prose_names_no_setting_that_does_not_exist() -> None:
    prose = [ROOT / "README.md", ROOT / "Dockerfile", *(ROOT / "docs").glob("*.md")]
    stray = {name: where for name, where in names_in(prose).items()
             if name not in DECLARED and name not in AGENT_RUN_VARIABLES}

    assert stray == {}


def toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for index, block in enumerate(re.findall(r"```toml\n(.*?)```", text, flags=re.S)):
            blocks.append((f"{path.name}#{index}", block))
    return blocks


@pytest.mark.parametrize(("where", "block"), toml_blocks(), ids=[w for w, _ in toml_blocks()])
def test_every_toml_example_in_the_docs_passes_the_start_up_checks(
        where: str, block: str, tmp_path: Path) -> None:
    path = tmp_path / "orch.toml"
    path.write_text(block, encoding="utf-8")

    load({"ORCH_TELEGRAM_TOKEN": "1:x", "ORCH_TELEGRAM_CHAT_ID": "-1",
          "ORCH_CONFIG": str(path)})


def test_every_declaration_is_complete_and_its_default_within_its_range() -> None:
    specs = [spec for _, spec in declared(Settings)]

    assert len({spec.env for spec in specs}) == len(specs)
    for item, spec in declared(Settings):
        assert spec.env.startswith("ORCH_") and spec.help and spec.group, spec.env
        assert spec.in_range(item.default), spec.env
        assert spec.low is None or spec.high is None or spec.low <= spec.high, spec.env
