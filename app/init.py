"""`orch init`: a few questions (or flags), then a commented orch.toml and .env.

Nothing is invented: what the team does not know yet stays empty, and `orch doctor`
names it afterwards, one line each. Existing files are never overwritten without
--force. The .env holds secrets, so it is written readable by its owner only.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from app.envfile import read_env_file
from app.init_templates import AGENTS, Answers, render_env, render_toml
from core.errors import ConfigError
from core.settings.checks import load

Ask = Callable[[str, str], str]

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("token", "Bot token from @BotFather (empty: later)"),
    ("chat_id", "Team group's chat id, e.g. -1001234567890 (empty: find it with "
                "`orch doctor --listen`)"),
    ("approvers", "Approvers' Telegram user ids, comma separated (empty: later)"),
    ("plane_url", "Plane's address, e.g. https://plane.example.com (empty: no Plane)"),
    ("plane_token", "Plane API key"),
    ("plane_slug", "Plane workspace slug"),
    ("plane_projects", "Plane project identifiers to follow, comma separated (empty: all)"),
    ("repos", "Repositories as NAME=REMOTE, comma separated (empty: later)"),
    ("agent", f"Agent for the developer role: {', '.join(AGENTS)}"),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = sub.add_parser("init", help="write a commented orch.toml and .env for your team",
                          description="A few questions (or flags), then a commented "
                                      "orch.toml and .env; `orch doctor` then names what "
                                      "is still missing.")
    init.add_argument("--dir", default=".", help="where to write them (default: here)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.add_argument("--no-input", action="store_true", help="ask nothing; flags only")
    init.add_argument("--token", help="ORCH_TELEGRAM_TOKEN (a flag stays in your shell's "
                                      "history: answering the question does not)")
    init.add_argument("--chat-id", help="ORCH_TELEGRAM_CHAT_ID")
    init.add_argument("--approvers", help="ORCH_APPROVERS")
    init.add_argument("--plane-url", help="ORCH_PLANE_API_URL")
    init.add_argument("--plane-token", help="ORCH_PLANE_API_TOKEN")
    init.add_argument("--plane-slug", help="ORCH_PLANE_WORKSPACE_SLUG")
    init.add_argument("--plane-projects", help="ORCH_PLANE_PROJECTS")
    init.add_argument("--repo", action="append", default=[], metavar="NAME=REMOTE",
                      help="a repository and its git remote (repeat for more)")
    init.add_argument("--agent", choices=AGENTS, help="who does the developer's work")
    init.add_argument("--test-command", default="make test", help="what the tester runs")
    init.add_argument("--http-port", default="", help="ORCH_HTTP_PORT (health, webhooks)")


def init(args: argparse.Namespace, ask: Ask | None = None) -> int:
    """Write the two files; 0 when written, 1 when refused (they exist, or bad answers)."""
    folder = Path(args.dir)
    toml_path, env_path = folder / "orch.toml", folder / ".env"
    existing = [str(p) for p in (toml_path, env_path) if p.exists()]
    if existing and not args.force:
        print(f"orch init: {', '.join(existing)} exists; use --force to overwrite",
              file=sys.stderr)
        return 1
    interactive = not args.no_input and sys.stdin.isatty()
    answers = gather(args, ask or (_prompt if interactive else None))
    if isinstance(answers, str):
        print(f"orch init: {answers}", file=sys.stderr)
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    toml_path.write_text(render_toml(answers), encoding="utf-8")
    _write_private(env_path, render_env(answers))
    print(f"wrote {toml_path} and {env_path} (secrets: readable by you only)")
    print(f"next: cd {folder} && orch --env-file .env doctor   # says what is still missing")
    return _self_check(env_path, folder)


def gather(args: argparse.Namespace, ask: Ask | None) -> Answers | str:
    """Answers from flags, then from questions for whatever flags left open."""
    given = {"token": args.token, "chat_id": args.chat_id, "approvers": args.approvers,
             "plane_url": args.plane_url, "plane_token": args.plane_token,
             "plane_slug": args.plane_slug, "plane_projects": args.plane_projects,
             "repos": ",".join(args.repo) if args.repo else None, "agent": args.agent}
    values: dict[str, str] = {}
    for name, question in QUESTIONS:
        value = given[name]
        if value is None and ask is not None and _relevant(name, values):
            value = ask(question, "claude" if name == "agent" else "")
        values[name] = (value or "").strip()
    repos = _repos(values.pop("repos"))
    if isinstance(repos, str):
        return repos
    agent = values.pop("agent") or "claude"
    if agent not in AGENTS:
        return f"the agent is one of {', '.join(AGENTS)}, not {agent!r}"
    return Answers(**values, repos=repos, agent=agent, test_command=args.test_command,
                   http_port=args.http_port)


def _relevant(name: str, values: dict[str, str]) -> bool:
    return not name.startswith("plane_") or name == "plane_url" or bool(values.get("plane_url"))


def _repos(raw: str) -> dict[str, str] | str:
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, remote = part.partition("=")
        if not sep or not name.strip() or not remote.strip():
            return f"a repository is NAME=REMOTE, not {part!r}"
        found[name.strip()] = remote.strip()
    return found


def _prompt(question: str, default: str) -> str:
    shown = f" [{default}]" if default else ""
    try:
        return input(f"{question}{shown}: ") or default
    except EOFError:
        return default


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def _self_check(env_path: Path, folder: Path) -> int:
    """What was written passes orch's own checks, apart from what is still to fill in."""
    values = read_env_file(env_path)
    config = Path(values.get("ORCH_CONFIG", "orch.toml"))
    values["ORCH_CONFIG"] = str(config if config.is_absolute() else folder / config)
    try:
        load(values, require_telegram=False)
    except ConfigError as exc:
        print(f"orch init: the files need a fix: {exc.line}", file=sys.stderr)
        return 1
    return 0
