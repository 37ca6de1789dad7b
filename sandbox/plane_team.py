"""The team's Plane, for the demo and the tests: its states, and a scripted morning of
people creating and moving work items.

    emulator = PlaneEmulator(clock, api_key="demo-key")
    seed_team_project(emulator, "ORCH")
    for step in plane_morning("ORCH"):
        step.act(emulator)
        await orch_reconciles_and_the_chat_settles()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sandbox.plane.emulator import PlaneEmulator
from sandbox.plane.records import Project

TEAM_STATES: tuple[tuple[str, str], ...] = (
    ("Backlog", "backlog"),
    ("Todo", "unstarted"),
    ("Approved", "unstarted"),
    ("In Progress", "started"),
    ("In Review", "started"),
    ("Blocked", "started"),
    ("Done", "completed"),
    ("Cancelled", "cancelled"),
)


def seed_team_project(emulator: PlaneEmulator, identifier: str = "ORCH",
                      name: str = "Orchestrator") -> Project:
    """A project with the team's states (Backlog is the default); no news is queued."""
    project = emulator.add_project(identifier, name, default_states=False)
    for index, (state, group) in enumerate(TEAM_STATES):
        emulator.add_state(identifier, state, group, default=index == 0)
    emulator.outbox.pending.clear()  # setting the scene is not news
    return project


@dataclass(frozen=True)
class PlaneStep:
    """One thing a person does in Plane; `says` is how the transcript tells it."""

    who: str
    says: str
    act: Callable[[PlaneEmulator], object]


def plane_morning(identifier: str = "ORCH") -> list[PlaneStep]:
    """The demo's Plane side: three items filed, two approved, one blocked and freed,
    one dropped, one finished. Item keys are IDENTIFIER-1..3 in filing order."""
    one, two, three = (f"{identifier}-{n}" for n in (1, 2, 3))

    def file(title: str, state: str) -> Callable[[PlaneEmulator], object]:
        return lambda emu: emu.add_item(
            identifier, title, state=state,
            description_html=f"<p>{title}, as discussed at stand-up.</p>")

    def move(key: str, state: str) -> Callable[[PlaneEmulator], object]:
        return lambda emu: emu.move_item(key, state)

    return [
        PlaneStep("lead", f"files {one} “Export invoices as CSV”",
                  file("Export invoices as CSV", "Todo")),
        PlaneStep("lead", f"files {two} “Search customers by name”",
                  file("Search customers by name", "Todo")),
        PlaneStep("dev", f"files {three} “Archive inactive projects”",
                  file("Archive inactive projects", "Backlog")),
        PlaneStep("lead", f"moves {one} to Approved", move(one, "Approved")),
        PlaneStep("lead", f"moves {two} to Approved", move(two, "Approved")),
        PlaneStep("dev", f"moves {two} to Blocked (waiting for the designs)",
                  move(two, "Blocked")),
        PlaneStep("dev", f"moves {two} back to In Progress", move(two, "In Progress")),
        PlaneStep("lead", f"moves {three} to Cancelled", move(three, "Cancelled")),
        PlaneStep("lead", f"moves {one} to Done", move(one, "Done")),
    ]


async def play(emulator: PlaneEmulator, steps: list[PlaneStep],
               after_each: Callable[[PlaneStep], Awaitable[object]]) -> None:
    """Do each step in Plane, then let orch catch up (`after_each`: tick and settle)."""
    for step in steps:
        step.act(emulator)
        await after_each(step)
