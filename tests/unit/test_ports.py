"""Ports in one place: every Protocol lives in core/ports/, is narrow and documented once."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import core.ports

ROOT = Path(__file__).resolve().parents[2]
PORTS = ROOT / "core" / "ports"
LAYERS = ("core", "app", "bot", "storage")


def classes() -> list[tuple[Path, ast.ClassDef]]:
    found = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            module = ast.parse(path.read_text(encoding="utf-8"))
            found += [(path, n) for n in module.body if isinstance(n, ast.ClassDef)]
    return found


def is_protocol(node: ast.ClassDef) -> bool:
    return any(isinstance(b, ast.Name) and b.id == "Protocol" for b in node.bases)


def methods(node: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


PROTOCOLS = [(p, n) for p, n in classes() if is_protocol(n)]


def name(item: tuple[Path, ast.ClassDef]) -> str:
    return item[1].name


def test_every_protocol_is_in_the_ports_package() -> None:
    outside = [f"{p.relative_to(ROOT)}:{n.name}" for p, n in PROTOCOLS
               if not p.is_relative_to(PORTS)]
    assert outside == []
    assert len(PROTOCOLS) >= 21  # the walk sees them (21 were scattered before)


@pytest.mark.parametrize("item", PROTOCOLS, ids=name)
def test_a_port_is_narrow_and_documented(item: tuple[Path, ast.ClassDef]) -> None:
    _, port = item
    own = methods(port)
    composite = len(port.bases) > 1  # joins two ports for one adapter; adds nothing
    assert ast.get_docstring(port)
    assert (own == []) if composite else (1 <= len(own) <= 6)
    assert [m.name for m in own if not ast.get_docstring(m)] == []


@pytest.mark.parametrize("item", PROTOCOLS, ids=name)
def test_every_port_is_importable_from_core_ports(item: tuple[Path, ast.ClassDef]) -> None:
    assert item[1].name in core.ports.__all__
    assert getattr(core.ports, item[1].name).__name__ == item[1].name


def test_no_two_classes_share_a_name() -> None:
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path, node in classes():
        where[node.name].append(str(path.relative_to(ROOT)))
    assert {k: v for k, v in where.items() if len(v) > 1} == {}


@pytest.mark.parametrize("path", sorted(PORTS.glob("*.py")), ids=lambda p: p.name)
def test_port_modules_import_core_types_only_for_type_checking(path: Path) -> None:
    # So any module may import core.ports without a cycle: the ports sit on the ground.
    module = ast.parse(path.read_text(encoding="utf-8"))
    runtime = {n.module for n in module.body
               if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("core.")}
    allowed = {"core.tracker"} | {f"core.ports.{p.stem}" for p in PORTS.glob("*.py")}
    assert runtime - allowed == set()
