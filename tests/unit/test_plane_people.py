"""Who moved an item, by name: PlaneClient resolves Plane's `updated_by` through the
workspace's members (recorded answers), never names orch itself, re-reads the members
for a stranger at most every ten minutes, and never fails a read over a name."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from core.integrations.plane.client import PlaneClient
from core.integrations.plane.people import REFRESH_S
from core.ratebudget import RateBudget
from tests.plane_support import FIXTURES, KEY, JumpClock, recorded

PID = "194938ae-af55-47b7-b5d1-aff050418197"
ALICE = "a91995cd-6d39-40eb-8558-b7efc89b8103"
BOT = "45a6e063-9a0d-43d0-88cc-00723a5b43f6"  # the recorded key's own user
STRANGER = "0f0f0f0f-0000-4000-8000-000000000001"


def item_changed_by(user: str | None) -> httpx.Response:
    body = json.loads((FIXTURES / "11_work_item_get.json").read_text(encoding="utf-8"))
    body["updated_by"] = user
    return httpx.Response(200, json=body)


class People:
    """A recorded Plane whose one item was last changed by `changed_by`."""

    def __init__(self, members: Callable[[], httpx.Response]) -> None:
        self.changed_by: str | None = ALICE
        self.members = members
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append(path.rsplit("/", 2)[-2])
        if path == "/api/v1/users/me/":
            return recorded("05d_users_me")
        if path.endswith("/members/"):
            return self.members()
        if path.endswith(f"/projects/{PID}/"):
            return recorded("01b_project_get")
        return item_changed_by(self.changed_by)


Make = Callable[..., tuple[PlaneClient, People, JumpClock]]


@pytest.fixture
async def plane() -> AsyncIterator[Make]:
    made: list[PlaneClient] = []

    def make(members: Callable[[], httpx.Response] = lambda: recorded(
            "05b_workspace_members_list")) -> tuple[PlaneClient, People, JumpClock]:
        clock, people = JumpClock(), People(members)
        client = PlaneClient("http://plane.test", KEY, "acme", clock=clock,
                             budget=RateBudget(clock, 1000), transport=httpx.MockTransport(people),
                             rng=random.Random(3))
        made.append(client)
        return client, people, clock

    yield make
    for client in made:
        await client.aclose()


async def test_a_member_is_named_and_the_members_are_read_once(plane: Make) -> None:
    client, people, _ = plane()

    first = await client.item(PID, "i-1")
    again = await client.item(PID, "i-1")

    assert first.changed_by == again.changed_by == "Alice"
    assert people.seen.count("members") == 1 and people.seen.count("me") == 1


async def test_orch_itself_and_nobody_are_not_named(plane: Make) -> None:
    client, people, _ = plane()
    for user in (BOT, None):
        people.changed_by = user
        assert (await client.item(PID, "i-1")).changed_by == ""


async def test_a_stranger_costs_one_member_read_per_ten_minutes(plane: Make) -> None:
    client, people, clock = plane()
    people.changed_by = STRANGER

    for _ in range(5):
        assert (await client.item(PID, "i-1")).changed_by == ""
    assert people.seen.count("members") == 1

    clock.advance(REFRESH_S)
    await client.item(PID, "i-1")
    assert people.seen.count("members") == 2


async def test_members_plane_will_not_give_leave_the_move_unnamed(plane: Make) -> None:
    client, people, _ = plane(members=lambda: httpx.Response(
        403, json={"detail": "You do not have permission to perform this action."}))

    item = await client.item(PID, "i-1")

    assert (item.key, item.changed_by) == ("ORCH-2", "")
    assert people.seen.count("members") == 1
