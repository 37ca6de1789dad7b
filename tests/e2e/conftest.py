"""End-to-end fixtures: the emulator served on 127.0.0.1 and orch running against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.runtime import running
from core.clock import ManualClock
from sandbox.team import DEV, GROUP, OUTSIDE, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator


@pytest.fixture
def emulator(clock: ManualClock) -> TelegramEmulator:
    emu = TelegramEmulator(clock=clock)
    emu.create_chat(GROUP, "supergroup", "Team")
    emu.create_chat(OUTSIDE, "group", "Somebody else's group")
    emu.create_chat(DEV, "private", username="dev")
    return emu


@pytest.fixture
async def team(emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path,
               ) -> AsyncIterator[Team]:
    async with emulator.serve() as url:
        async with running(sandbox_settings(url, tmp_path / "orch.db"), clock,
                           poll_timeout=1) as orch:
            yield Team(emulator, orch, clock)
