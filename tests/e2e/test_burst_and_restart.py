"""A burst of changes stays within the group's budget; a restart loses and repeats nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.runtime import running
from core.clock import ManualClock
from core.pipeline.tasks import Actor
from sandbox.team import GROUP, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator

LEAD = Actor("telegram", "501", "@lead")
SENDS = ("sendMessage", "editMessageText")


async def make_changes(team: Team, tasks: int, changes: int) -> None:
    """`changes` real state changes spread over `tasks` tasks, as fast as possible."""
    service = team.orch.pipeline
    ids = [(await service.create("api", f"Task {n}", LEAD)).id for n in range(tasks)]
    done = tasks
    while done < changes:
        for task_id in ids:
            task = await service.get(task_id)
            if task.stage == "blocked":
                await service.unblock(task_id, LEAD)
            elif task.stage in ("queued", "development"):
                await service.advance(task_id, LEAD) if task.stage == "development" else \
                    await service.approve(task_id, LEAD)
            else:
                await service.block(task_id, LEAD, f"blocked at change {done}")
            done += 1
            if done >= changes:
                break


async def test_a_burst_of_100_changes_stays_within_twenty_a_minute(team: Team) -> None:
    start = team.clock.now()
    await make_changes(team, tasks=10, changes=100)
    await team.settle()
    first_minute = [
        c for c in team.emu.calls() if c["method"] in SENDS and c["ok"]
        and _at(c) < start + timedelta(seconds=60)
    ]
    assert len(first_minute) <= 20
    assert team.emu.stats()["totals"]["rate_limited"] == 0
    for task in await team.orch.pipeline.open_tasks():
        card = await team.card(task.key)
        assert f"{task.stage} since" in card["plain_text"]  # the card shows the last state
    digests = [m for m in team.bot_messages() if m["plain_text"].startswith("📦")]
    assert len(digests) >= 1


async def test_restart_loses_nothing_and_resends_nothing(
        emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path) -> None:
    db = tmp_path / "orch.db"
    async with emulator.serve() as url:
        async with running(sandbox_settings(url, db), clock, poll_timeout=1) as orch:
            team = Team(emulator, orch, clock)
            await make_changes(team, tasks=3, changes=12)
            # stop before the notifier had the budget to say everything
        sent_before = _sent(emulator)
        async with running(sandbox_settings(url, db), clock, poll_timeout=1) as orch:
            team = Team(emulator, orch, clock)
            await team.settle()
            states = {t.key: t.stage for t in await orch.pipeline.open_tasks()}
            sent_after_first_settle = _sent(emulator)
        async with running(sandbox_settings(url, db), clock, poll_timeout=1) as orch:
            team = Team(emulator, orch, clock)
            await team.settle()
            assert {t.key: t.stage for t in await orch.pipeline.open_tasks()} == states
            assert _sent(emulator) == sent_after_first_settle  # nothing re-sent
            for key, stage in states.items():
                assert f"{stage} since" in (await team.card(key))["plain_text"]
    assert sent_after_first_settle > sent_before  # the restart said what was left unsaid
    pushes = [m["plain_text"] for m in emulator.chat_messages(GROUP)
              if m["from_bot"] and not m["reply_markup"] and "since" not in m["plain_text"]]
    assert len(pushes) == len(set(pushes))  # no push said twice


def _sent(emu: TelegramEmulator) -> int:
    return sum(1 for c in emu.calls() if c["method"] in SENDS and c["ok"])


def _at(call: dict[str, object]) -> object:
    from core.clock import parse_iso

    return parse_iso(str(call["at"]))
