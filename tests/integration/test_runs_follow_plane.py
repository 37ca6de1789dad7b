"""The whole way from the tracker: an item moved to Blocked in Plane (the emulator, over
HTTP) while its task's developer agent runs stops the agent (checked by pid), the run
ends cancelled, the card says why and what the agent writes afterwards counts for
nothing. The run watch hears the move as it hears any other: through the hub."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from core.clock import ManualClock
from core.config import AgentCommand, Settings
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.config import JobsConfig
from core.jobs.effort import EffortView
from core.jobs.engine import StageEngine
from core.jobs.loop import JobLoop
from core.jobs.model import JobStatus, RunStatus
from storage.jobs import SqliteJobStore
from storage.runs import SqliteRunLedger
from tests.integration.test_runs_follow_task import AGENT, gone
from tests.orch_process import until
from tests.plane_rig import plane_rig


async def test_an_item_blocked_in_plane_stops_its_running_developer(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "agent.py", tmp_path / "agent.pid"
    script.write_text(textwrap.dedent(AGENT), encoding="utf-8")
    developer = AgentCommand((sys.executable, str(script), str(pid_file), "silent"),
                             timeout_s=600)
    settings = Settings(agents={"developer": developer}, repos_dir=str(tmp_path / "repos"))
    clock = ManualClock()  # the loop's; the rig's clock jumps on every sleep
    async with plane_rig(tmp_path) as rig:
        assert rig.hub is not None
        jobs = SqliteJobStore(rig.db)
        config = JobsConfig.from_settings(settings)
        engine = StageEngine(rig.pipeline, jobs, config, clock)
        loop = JobLoop(runs=jobs, engine=engine, pipeline=rig.pipeline,
                       runner=SubprocessAgentRunner(clock, kill_grace_s=1.0),
                       worktrees=GitWorktrees(GitWorkspace(Path(settings.repos_dir))),
                       config=config, clock=clock, logs_dir=tmp_path / "logs")
        rig.hub.subscribe(engine)
        rig.hub.subscribe(loop.watch)
        reconciler = rig.reconciler()
        rig.emulator.add_item("ORCH", "Stop me", state="Approved")
        await reconciler.tick()
        task = await rig.pipeline.find("ORCH-1")
        try:
            await loop.start()
            await loop.tick()
            await until(pid_file.exists)
            pid = int(await asyncio.to_thread(pid_file.read_text))

            rig.emulator.move_item("ORCH-1", "Blocked")
            rig.clock.advance(120)
            await reconciler.tick()
            await until(lambda: gone(pid), within=5.0, what=f"agent {pid} gone")
            await loop.wait_idle()
            await loop.settle()
        finally:
            await loop.stop()

        job = await jobs.latest_job(task.id, "development")
        assert job is not None and job.status is JobStatus.CANCELLED
        run = await jobs.last_run(job.id)
        assert run is not None and run.status is RunStatus.CANCELLED and run.result == {}
        after = await rig.pipeline.get(task.id)
        assert after.stage == "blocked" and await jobs.open_job(task.id) is None
        note = await EffortView(SqliteRunLedger(rig.db), clock).card_note(after)
        assert note is not None
        assert "⏹ stopped ORCH-1's developer run: moved to Blocked in Plane by Alice" in note
