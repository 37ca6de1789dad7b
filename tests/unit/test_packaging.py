"""The Dockerfile and the README's `docker run` line: what they promise holds."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from core.settings.checks import load

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def image_environment() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", DOCKERFILE, flags=re.MULTILINE):
        found.update(part.split("=", 1) for part in shlex.split(line))
    return found


def readme_docker_run() -> list[str]:
    block = README[README.index("docker run"):]
    command = block[: block.index("```")].replace("\\\n", " ")
    return shlex.split(command)


def test_the_image_checks_its_health_on_the_port_it_exposes() -> None:
    port = image_environment()["ORCH_HTTP_PORT"]

    assert re.search(rf"^EXPOSE {port}$", DOCKERFILE, flags=re.MULTILINE)
    health = DOCKERFILE[DOCKERFILE.index("HEALTHCHECK"):]
    assert "/healthz" in health and "ORCH_HTTP_PORT" in health
    assert "git" in DOCKERFILE.split("RUN", 2)[1]


def test_the_image_copies_every_installed_package() -> None:
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, flags=re.MULTILINE))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    packages = set(re.findall(r'"(\w+)\*"', pyproject))

    assert copied == packages
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "*.db" in ignored


def test_the_readme_docker_run_line_passes_the_start_up_checks() -> None:
    argv = readme_docker_run()
    given = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "-e")

    settings = load({**image_environment(), **given})

    assert settings.telegram_chat_id < 0 and settings.approvers
    assert f"{settings.http_port}:{settings.http_port}" in argv
    assert "orch-data:/data" in argv
