"""`orch run` for the crash test: the same settings from the environment and the same
`app.cli.run`, with one change: the group's budget is raised for the sandbox group.

The crash test is about what survives a SIGKILL, not about pace; at Telegram's 20 a
minute its morning would take minutes of waiting. The emulator's group is configured to
allow the raised pace, so nothing here is refused for flooding.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys

from app.cli import run
from core.config import Settings

SANDBOX_PER_MINUTE = 600


def main() -> int:
    settings = Settings.from_env(os.environ)
    raised = dataclasses.replace(settings, group_messages_per_minute=SANDBOX_PER_MINUTE)
    return asyncio.run(run(raised))


if __name__ == "__main__":
    sys.exit(main())
