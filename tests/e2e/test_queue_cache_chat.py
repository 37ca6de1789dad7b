"""/queue in the group from the summary cache: its age when stale, `/queue fresh`."""

from __future__ import annotations

import re

from sandbox.team import Team


async def test_queue_says_its_age_when_stale_and_fresh_forces_a_rebuild(team: Team) -> None:
    await team.say("/new api First")
    await team.settle()
    assert "queued (1)" in (await team.say("/queue"))["plain_text"]
    await team.say("/new api Second")
    await team.settle()

    stale = await team.say("/queue")
    assert "queued (1)" in stale["plain_text"]
    assert re.search(r"as of \d+ s ago", stale["plain_text"])
    forced = await team.say("/queue fresh")
    assert "queued (2)" in forced["plain_text"] and "as of" not in forced["plain_text"]
    again = await team.say("/queue")
    assert "queued (2)" in again["plain_text"] and "as of" not in again["plain_text"]
