"""The commented `orch.toml` and `.env` that `orch init` writes, from a team's answers.

Both files are meant to be read and edited by people: every block says what it is for
and where to read more. What is not known yet is left empty (the .env) or commented out
(orch.toml), so `orch doctor` can name it as missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

AGENTS = ("claude", "aider", "sandbox", "none")
SANDBOX_AGENTS = Path(__file__).resolve().parent.parent / "sandbox" / "agents"


@dataclass
class Answers:
    """What `orch init` asks (or takes as flags); empty means "fill it in later"."""

    token: str = ""
    chat_id: str = ""
    approvers: str = ""
    plane_url: str = ""
    plane_token: str = ""
    plane_slug: str = ""
    plane_projects: str = ""
    repos: dict[str, str] = field(default_factory=dict)
    agent: str = "claude"
    test_command: str = "make test"
    http_port: str = ""
    config_path: str = "orch.toml"


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def agent_commands(answers: Answers) -> dict[str, list[str] | None]:
    """role → command (None: left commented out, with a note)."""
    tester = ["sh", "-c", f"if {answers.test_command}; then r=true; else r=false; fi; "
              "printf '{\"tests_passed\": %s}' \"$r\" > \"$ORCH_RESULT_FILE\""]
    if answers.agent == "claude":
        return {
            "developer": ["claude", "-p", "Read {prompt_file} and do the task it describes. "
                          "Commit your work.", "--permission-mode", "acceptEdits",
                          "--allowedTools", "Bash(git:*)"],
            "reviewer": ["sh", "-c", "exec claude -p \"$(cat \"$ORCH_PROMPT_FILE\")\" "
                         "--permission-mode plan"],
            "tester": tester, "deployer": None}
    if answers.agent == "aider":
        return {"developer": ["aider", "--message-file", "{prompt_file}", "--yes-always",
                              "--no-stream"],
                "reviewer": None, "tester": tester, "deployer": None}
    if answers.agent == "sandbox":
        return {role: ["{python}", str(SANDBOX_AGENTS / f"{role}.py"), "{prompt_file}"]
                for role in ("developer", "reviewer", "tester", "deployer")}
    return {"developer": None, "reviewer": None, "tester": None, "deployer": None}


TIMEOUTS = {"developer": 3600, "reviewer": 1200, "tester": 1800, "deployer": 900}
ROLE_NOTES = {
    "developer": "does the task: an AI coding agent that edits and commits in the worktree",
    "reviewer": 'reads the change; writes {"verdict": "APPROVE"} or "REQUEST_CHANGES"',
    "tester": 'runs the tests; writes {"tests_passed": true|false} to $ORCH_RESULT_FILE',
    "deployer": "ships a merged change; add it with a deploy stage",
}

PIPELINE = """\
# The pipeline: a task waits in `queued` until someone presses Approve (or moves it to
# the approved state in Plane), then each stage's role does its job; the stage's gates
# are checked before the task moves on, and a failed gate sends it to `rollback_to`.
# `queued` and `done` are added at the ends.
[[pipeline.stages]]
name = "development"
role = "developer"

[[pipeline.stages]]
name = "review"
role = "reviewer"
gates = ["review_approved"]
rollback_to = "development"

[[pipeline.stages]]
name = "testing"
role = "tester"
gates = ["tests_passed"]
rollback_to = "development"

[[pipeline.stages]]
name = "merge"
gates = ["human_approval"]   # waits for a person's Approve before it goes on
"""

DEPLOY_STAGE = """
[[pipeline.stages]]
name = "deploy"
role = "deployer"
"""

DEPLOY_LATER = """
# Once you have a deploy command, add a deploy stage and [agents.deployer]:
# [[pipeline.stages]]
# name = "deploy"
# role = "deployer"
"""


def render_toml(answers: Answers) -> str:
    commands = agent_commands(answers)
    parts = ["# orch.toml, written by `orch init`. Every key: docs/settings.md. orch refuses",
             "# unknown keys at start-up; `orch doctor` checks this file without starting.",
             "", PIPELINE.rstrip("\n"),
             (DEPLOY_STAGE if commands["deployer"] else DEPLOY_LATER).rstrip("\n"), "",
             "# Agents: the command each role runs in the task's git worktree, never through",
             "# a shell unless it says so (docs/agents.md has the contract and more examples).",
             ]
    for role, command in commands.items():
        parts += ["", f"# {role}: {ROLE_NOTES[role]}"]
        block = [f"[agents.{role}]", f"command = {toml_list(command or ['your-command'])}",
                 f"timeout_s = {TIMEOUTS[role]}"]
        parts += block if command else [f"# {line}" for line in block]
    return "\n".join([*parts, "", *_repos(answers), "", *_plane(answers), ""])


def _repos(answers: Answers) -> list[str]:
    lines = ["# Repositories: name = git remote. /new REPO TITLE names one; items from Plane",
             "# use [plane.repos]. A repo without a remote gets a local repository (testing).",
             "[repos]"]
    if not answers.repos:
        return [*lines, '# api = "git@git.example.com:team/api.git"']
    return lines + [f"{name} = {json.dumps(url)}" for name, url in answers.repos.items()]


def _plane(answers: Answers) -> list[str]:
    lines = ["# Plane: the names of your project's states, by what orch uses them for",
             "# (`orch doctor` names any state a followed project lacks).",
             "[plane.states]",
             'approved = "Approved"          # an item moved here starts its work',
             'in_progress = "In Progress"', 'in_review = "In Review"', 'blocked = "Blocked"',
             'done = "Done"', 'cancelled = "Cancelled"', "",
             "# Plane project identifier = the repo its items work in (default: lowercased).",
             "[plane.repos]"]
    projects = [p.strip() for p in answers.plane_projects.split(",") if p.strip()]
    repos = list(answers.repos)
    if projects and len(repos) == 1:
        return lines + [f"{p} = {json.dumps(repos[0])}" for p in projects]
    return [*lines, '# WEB = "web"']


def render_env(answers: Answers) -> str:
    plane_on = bool(answers.plane_url)

    def line(name: str, value: str, note: str = "", *, optional: bool = False) -> str:
        # no comment after a value: Docker's --env-file and systemd would keep it
        text = f"# {name}={value}" if optional and not value else f"{name}={value}"
        return f"# {note}\n{text}" if note else text

    rows = [
        "# .env, written by `orch init`: it holds secrets. Keep it private and out of git.",
        "# Use it as: orch --env-file .env doctor · docker run --env-file .env ·",
        "# systemd EnvironmentFile=. Every setting: docs/settings.md.", "",
        "# Telegram (docs/getting-started.md: BotFather, the chat id, user ids)",
        line("ORCH_TELEGRAM_TOKEN", answers.token, "from @BotFather"),
        line("ORCH_TELEGRAM_CHAT_ID", answers.chat_id, "orch doctor --listen, then /whoami"),
        line("ORCH_APPROVERS", answers.approvers, "user ids, comma separated"), "",
        line("ORCH_CONFIG", answers.config_path),
        # left to their defaults here: the Docker image points them into its volume
        line("ORCH_DB_PATH", "", "the SQLite file (default orch.db): keep it, back it up",
             optional=True),
        line("ORCH_REPOS_DIR", "", "clones, worktrees, run logs (default repos)",
             optional=True),
        line("ORCH_HTTP_PORT", answers.http_port, "/healthz, /hooks/plane, /api/*",
             optional=True),
        line("ORCH_HTTP_HOST", "", "default 127.0.0.1; 0.0.0.0 to take Plane's webhook "
             "without a proxy (the Docker image sets it)", optional=True),
    ]
    if answers.agent == "none":
        rows.append(line("ORCH_JOBS_ENABLED", "false", "no agents yet: track and talk only"))
    rows += ["", "# Plane: all three, or none (then tasks come only from /new)",
             line("ORCH_PLANE_API_URL", answers.plane_url, optional=not plane_on),
             line("ORCH_PLANE_API_TOKEN", answers.plane_token, "Profile → API tokens",
                  optional=not plane_on),
             line("ORCH_PLANE_WORKSPACE_SLUG", answers.plane_slug, optional=not plane_on),
             line("ORCH_PLANE_PROJECTS", answers.plane_projects, "identifiers; empty: all",
                  optional=True),
             line("ORCH_PLANE_WEBHOOK_SECRET", "", "Plane's webhook secret", optional=True),
             "", "# Gitea or Forgejo: both, or none",
             line("ORCH_GITEA_URL", "", optional=True),
             line("ORCH_GITEA_TOKEN", "", "Settings → Applications", optional=True), ""]
    return "\n".join(rows)
