"""What the sandbox agents share. They run as scripts, so this module sits beside them.

The contract they follow is orch's (docs/agents.md): the task arrives in ORCH_* variables
and a prompt file, the structured result goes to $ORCH_RESULT_FILE as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def env(name: str) -> str:
    return os.environ.get(name, "")


def title_has(knob: str) -> bool:
    """True when the task title carries `knob`, e.g. "[fail-tests]"."""
    return knob in env("ORCH_TASK_TITLE")


def first_time(name: str) -> bool:
    """True on the first call for `name` in this worktree, False afterwards.

    Knobs like "[fail-tests]" act once so a demo shows a rollback and then a pass,
    whether or not the pipeline restarts the attempt count after the rollback. The
    marker lives in the worktree's git directory, so it never shows up in a commit.
    """
    try:
        git_dir = Path(git("rev-parse", "--absolute-git-dir"))
    except (OSError, subprocess.SubprocessError):  # not in a repository, or no git at all
        return env("ORCH_ATTEMPT") == "1"
    marker = git_dir / f"orch-sandbox-{name}"
    if marker.exists():
        return False
    marker.write_text(env("ORCH_RUN_ID"), encoding="utf-8")
    return True


def git(*args: str) -> str:
    identity = {
        "GIT_AUTHOR_NAME": "orch sandbox agent",
        "GIT_AUTHOR_EMAIL": "sandbox@orch.invalid",
        "GIT_COMMITTER_NAME": "orch sandbox agent",
        "GIT_COMMITTER_EMAIL": "sandbox@orch.invalid",
    }
    done = subprocess.run(
        ["git", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**identity, **os.environ},
        timeout=60,
    )
    return done.stdout.strip()


def write_result(**data: Any) -> None:
    path = env("ORCH_RESULT_FILE")
    if path:
        Path(path).write_text(json.dumps(data), encoding="utf-8")


def prompt_text() -> str:
    """The prompt, from the first argument or $ORCH_PROMPT_FILE."""
    path = sys.argv[1] if len(sys.argv) > 1 else env("ORCH_PROMPT_FILE")
    return Path(path).read_text(encoding="utf-8") if path else ""
