"""An optional budget per task: when what its runs cost passes it, the task is blocked.

`[budget] tokens = 2000000, cost = 20.0` in ORCH_CONFIG (either or both). After each run
is recorded, the stage engine asks `over(task_id)`; a task over its budget is blocked
with the figures as the reason — one BLOCKED event, so one push, and no further run
until a person unblocks it (then it runs again, and is blocked again after its next run
unless the budget was raised).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.ports.jobs import RunLedger


@dataclass(frozen=True, slots=True)
class Budget:
    tokens: int | None = None
    cost: float | None = None

    @property
    def set(self) -> bool:
        return self.tokens is not None or self.cost is not None


class TaskBudget:
    """Says whether a task's runs have spent more than the budget, and by what."""

    def __init__(self, ledger: RunLedger, budget: Budget) -> None:
        self._ledger = ledger
        self.budget = budget

    async def over(self, task_id: int) -> str | None:
        """The reason to block ("over budget: 2.1M tokens of 2M"), or None."""
        budget = self.budget
        if not budget.set:
            return None
        totals = await self._ledger.task_totals(task_id)
        if budget.tokens is not None and totals.tokens > budget.tokens:
            return (f"over budget: {totals.tokens:,} tokens of {budget.tokens:,} "
                    f"({totals.spelled()})")
        if budget.cost is not None and totals.cost is not None and totals.cost > budget.cost:
            return f"over budget: ${totals.cost:,.2f} of ${budget.cost:,.2f} ({totals.spelled()})"
        return None
