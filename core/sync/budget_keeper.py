"""The tracker's request budget outlives a restart: loaded once, saved when it changed.

Without it a restarted orch believes the window empty and spends a full budget on top of
what the previous process just spent: the 429s come right after a restart."""

from __future__ import annotations

from core.clock import Clock
from core.ports import BudgetStore
from core.ratebudget import RateBudget


class BudgetKeeper:
    """Loads a budget's saved state before its first use and saves it after use."""

    def __init__(self, budget: RateBudget, store: BudgetStore, name: str, clock: Clock) -> None:
        self._budget = budget
        self._store = store
        self._name = name
        self._clock = clock
        self._loaded = False

    async def load_once(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if (saved := await self._store.load(self._name)) is not None:
            self._budget.restore(saved)

    async def save(self) -> None:
        if self._budget.changed:
            await self._store.save(self._name, self._budget.snapshot(), self._clock.now())
