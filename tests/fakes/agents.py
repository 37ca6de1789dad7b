"""An AgentRunner that plays a script, and Worktrees in a temporary folder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import AgentCommand
from core.jobs.agents import AgentRequest, AgentResult, RunOutcome
from core.pipeline.tasks import Task


@dataclass
class ScriptedRunner:
    """An AgentRunner that answers from a script per role (default: success, no result)
    and records every request; `hold` makes runs wait until it is set."""

    script: dict[str, list[tuple[RunOutcome, dict[str, Any]]]] = field(default_factory=dict)
    requests: list[AgentRequest] = field(default_factory=list)
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # set when a run begins

    def then(self, role: str, outcome: RunOutcome, **structured: Any) -> ScriptedRunner:
        self.script.setdefault(role, []).append((outcome, structured))
        return self

    async def run(self, request: AgentRequest, command: AgentCommand) -> AgentResult:
        self.requests.append(request)
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        queue = self.script.get(request.role) or []
        outcome, structured = queue.pop(0) if queue else (RunOutcome.SUCCEEDED, {})
        error = None if outcome is RunOutcome.SUCCEEDED else f"{request.role} said {outcome}"
        return AgentResult(outcome, 0 if error is None else 1, 0.1, error, request.log_path,
                           structured)

    def roles(self) -> list[str]:
        return [r.role for r in self.requests]


@dataclass
class FakeWorktrees:
    """Worktrees that are plain directories under `root`; `fail_with` makes prepare fail."""

    root: Path
    fail_with: Exception | None = None
    prepared: list[str] = field(default_factory=list)

    async def prepare(self, task: Task) -> Path:
        if self.fail_with is not None:
            raise self.fail_with
        self.prepared.append(task.key)
        path = self.root / task.key
        path.mkdir(parents=True, exist_ok=True)
        return path
