"""PlaneClient against the Plane emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from core.errors import TrackerRejected, TrackerUnavailable
from core.integrations.plane.client import PlaneClient
from core.integrations.plane.http import HttpRetryPolicy
from core.integrations.plane.webhooks import parse_delivery
from core.ratebudget import RateBudget
from core.tracker import iter_items
from sandbox.plane import PlaneEmulator, SentDelivery, serve_emulator
from sandbox.plane.records import HUMAN
from tests.plane_support import FIXTURES, KEY, JumpClock

SECRET = "emulated-webhook-secret"


@dataclass
class Served:
    emulator: PlaneEmulator
    url: str
    clock: JumpClock
    deliveries: list[SentDelivery]
    delivered: asyncio.Event

    def client(self, budget: int = 1000, policy: HttpRetryPolicy | None = None) -> PlaneClient:
        return PlaneClient(
            self.url,
            KEY,
            "acme",
            clock=self.clock,
            budget=RateBudget(self.clock, budget),
            policy=policy,
        )

    @property
    def project_id(self) -> str:
        return self.emulator.project("ORCH").id


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    clock = JumpClock()
    deliveries: list[SentDelivery] = []
    delivered = asyncio.Event()

    async def capture(url: str, headers: Mapping[str, str], body: bytes) -> None:
        deliveries.append(SentDelivery(url, dict(headers), body))
        delivered.set()

    emulator = PlaneEmulator(
        clock,
        KEY,
        "acme",
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret=SECRET,
        sender=capture,
    )
    emulator.add_project("ORCH", "Orchestrator")
    emulator.add_state("ORCH", "Approved", "unstarted")
    async with serve_emulator(emulator) as url:
        yield Served(emulator, url, clock, deliveries, delivered)


async def test_items_are_paginated_beyond_one_page(served: Served) -> None:
    for n in range(250):
        served.emulator.add_item("ORCH", f"item {n}")
    async with served.client() as client:
        keys = [item.key async for item in iter_items(client, served.project_id, per_page=100)]
    assert len(keys) == len(set(keys)) == 250
    assert keys[0] == "ORCH-250"  # newest change first
    assert served.emulator.stats.by_route["GET work-items"] == 3
    assert served.emulator.stats.rows_transferred >= 250


async def test_the_newest_change_comes_first_and_a_watermark_stops_the_walk(
    served: Served,
) -> None:
    for n in range(30):
        served.emulator.add_item("ORCH", f"item {n}")
    async with served.client() as client:
        first = await client.items_page(served.project_id, per_page=10)
        watermark = first.items[0].updated_at
        served.emulator.move_item("ORCH-3", "Approved")  # the clock stands still: still newer
        served.emulator.move_item("ORCH-7", "In Progress")
        changed = [i.key async for i in iter_items(client, served.project_id, since=watermark)]
    assert changed == ["ORCH-7", "ORCH-3", "ORCH-30"]  # ORCH-30 sits on the watermark
    assert served.emulator.stats.by_route["GET work-items"] == 2


async def test_an_item_by_key_and_a_state_change(served: Served) -> None:
    served.emulator.add_item("ORCH", "Ship it", priority="high")
    approved = served.emulator.state("ORCH", "Approved").id
    async with served.client() as client:
        item = await client.item(served.project_id, "ORCH-1")
        await client.set_state(served.project_id, item.id, approved)
        again = await client.item(served.project_id, item.id)
    assert (item.name, item.priority) == ("Ship it", "high")
    assert again.state_id == approved and again.updated_at > item.updated_at


async def test_a_duplicate_comment_is_a_success(served: Served) -> None:
    item = served.emulator.add_item("ORCH", "Ship it")
    async with served.client() as client:
        first = await client.comment(served.project_id, item.id, "<p>PR #4</p>", "pr-4")
        second = await client.comment(served.project_id, item.id, "<p>PR #4</p>", "pr-4")
    assert first == second
    assert len(served.emulator.comments) == 1


async def test_relations_follow_the_blocker(served: Served) -> None:
    blocker = served.emulator.add_item("ORCH", "Blocker")
    blocked = served.emulator.add_item("ORCH", "Blocked")
    served.emulator.add_relation("ORCH-2", "ORCH-1")
    async with served.client() as client:
        relations = await client.relations(served.project_id, blocked.id)
        assert relations.blocked_by == (blocker.id,)
        assert (await client.relations(served.project_id, blocker.id)).blocking == (blocked.id,)
        served.emulator.delete_item("ORCH-1")  # a blocker can vanish instead of finishing
        assert (await client.relations(served.project_id, blocked.id)).blocked_by == ()


async def test_a_429_is_waited_out_not_hammered(served: Served) -> None:
    served.emulator.add_item("ORCH", "Ship it")
    served.emulator.spend_budget(60)  # other users of the same key spent it all
    async with served.client(budget=1000) as client:
        for _ in range(5):
            await client.item(served.project_id, "ORCH-1")
    stats = served.emulator.stats
    assert stats.rate_limited == 1
    assert stats.calls == 6 + 1  # 5 items + the project's identifier, + one refused
    assert client.stats.rate_limit_waits == 1 and client.stats.retries == 0
    assert served.clock.slept[0] == 60.0


async def test_the_servers_remaining_count_is_followed_before_any_429(served: Served) -> None:
    served.emulator.add_item("ORCH", "Ship it")
    served.emulator.spend_budget(57)  # other users of the same key
    async with served.client(budget=1000) as client:
        for _ in range(5):
            await client.item(served.project_id, "ORCH-1")
    assert served.emulator.stats.rate_limited == 0  # X-RateLimit-Remaining said to slow down
    assert served.clock.slept and min(served.clock.slept) > 0


async def test_a_tick_never_exceeds_the_budget(served: Served) -> None:
    items = [served.emulator.add_item("ORCH", f"item {n}") for n in range(40)]
    approved = served.emulator.state("ORCH", "Approved").id
    async with served.client(budget=60) as client:
        for item in items:  # 40 reads, 40 writes, 40 comments: two minutes of budget
            await client.item(served.project_id, item.id)
            await client.set_state(served.project_id, item.id, approved)
            await client.comment(served.project_id, item.id, "<p>moved</p>", f"c-{item.id}")
    assert served.emulator.stats.rate_limited == 0
    assert served.emulator.window(KEY).peak <= 60
    # 120 + the project, once; + who the key is and who the members are, once
    assert client.stats.calls == served.emulator.stats.calls == 123
    assert client.stats.rate_limit_waits == 0
    assert len(served.clock.slept) == 2


async def test_refusals_come_back_as_tracker_errors(served: Served) -> None:
    async with served.client(policy=HttpRetryPolicy(max_attempts=2)) as client:
        with pytest.raises(TrackerRejected) as unknown:
            await client.item(served.project_id, "ORCH-99")
        assert unknown.value.status == 404
        with pytest.raises(TrackerUnavailable, match="Something went wrong"):
            await client.items_page(served.project_id, order_by="-no_such_field")
    async with PlaneClient(served.url, "wrong", "acme", clock=served.clock) as stranger:
        with pytest.raises(TrackerRejected, match="Given API token is not valid"):
            await stranger.projects()
    async with PlaneClient(served.url, KEY, "elsewhere", clock=served.clock) as lost:
        with pytest.raises(TrackerRejected, match="permission"):
            await lost.projects()


async def test_a_patch_sends_one_signed_webhook_per_changed_field(served: Served) -> None:
    item = served.emulator.add_item("ORCH", "Ship it")
    await served.emulator.deliver_webhooks()
    served.deliveries.clear()
    served.delivered.clear()
    approved = served.emulator.state("ORCH", "Approved").id
    async with served.client() as client:
        await client.set_state(served.project_id, item.id, approved)
    await asyncio.wait_for(served.delivered.wait(), timeout=5)
    [sent] = served.deliveries
    parsed = parse_delivery(sent.headers, sent.body, SECRET)
    assert (parsed.event, parsed.action, parsed.field) == ("issue", "updated", "state")
    assert parsed.item_id == item.id and parsed.project_id == served.project_id
    assert sent.json()["data"]["state"]["name"] == "Approved"


async def test_python_changes_send_webhooks_per_field(served: Served) -> None:
    item = served.emulator.add_item("ORCH", "Ship it")
    served.emulator.change_item(item, {"name": "Ship it now", "priority": "urgent"}, HUMAN)
    assert await served.emulator.deliver_webhooks() == 3 + 1  # project, created, two fields
    fields = [d.json()["activity"]["field"] for d in served.deliveries]
    assert fields[-2:] == ["name", "priority"]


# -- the emulator answers in the recorded shapes ---------------------------------------


def recorded(name: str) -> tuple[int, Any]:
    status = int((FIXTURES / f"{name}.headers.txt").read_text().split()[1])
    return status, json.loads((FIXTURES / f"{name}.json").read_text())


def keys_of(body: Any) -> set[str]:
    assert isinstance(body, dict)
    return set(body)


async def test_the_emulator_answers_like_the_recordings(served: Served) -> None:
    item = served.emulator.add_item("ORCH", "Ship it")
    base = f"{served.url}/api/v1/workspaces/acme/projects/{served.project_id}"
    async with httpx.AsyncClient(headers={"X-API-Key": KEY}) as http:
        states = await http.get(f"{base}/states/")
        items = await http.get(f"{base}/work-items/", params={"per_page": 1})
        one = await http.get(f"{base}/work-items/{item.id}/")
        relations = await http.get(f"{base}/work-items/{item.id}/relations/")
        bad_cursor = await http.get(f"{base}/work-items/", params={"cursor": "x"})
        too_big = await http.get(f"{base}/work-items/", params={"per_page": 1001})
        unknown = await http.get(f"{base}/work-items/{served.project_id}/")
        nokey = await http.get(f"{base}/states/", headers={"X-API-Key": ""})
    _, page = recorded("02_states_list")
    assert keys_of(states.json()) == keys_of(page)
    assert keys_of(states.json()["results"][0]) == keys_of(page["results"][0])
    assert keys_of(items.json()["results"][0]) == keys_of(recorded("11_work_item_get")[1])
    assert items.json()["next_cursor"] == "1:1:0"
    assert keys_of(one.json()) == keys_of(recorded("11_work_item_get")[1])
    assert keys_of(relations.json()) == keys_of(recorded("13e_relations_list_I2")[1])
    for response, name in [
        (bad_cursor, "10o_work_items_list_bad_cursor_400"),
        (too_big, "10n_work_items_list_per_page_too_big_400"),
        (unknown, "11e_work_item_get_unknown_404"),
        (nokey, "17b_auth_missing_key_401"),
    ]:
        assert (response.status_code, response.json()) == recorded(name)
    assert "X-RateLimit-Remaining" in states.headers and "X-RateLimit-Reset" in states.headers
    assert "X-RateLimit-Remaining" not in nokey.headers


async def test_the_emulator_lists_like_plane(served: Served) -> None:
    emulator = served.emulator
    emulator.add_item("ORCH", "low one", priority="low")
    emulator.add_item(
        "ORCH", "high one", priority="high", external_id="t-1", external_source="orchbot"
    )
    emulator.add_item("ORCH", "no one")
    base = f"{served.url}/api/v1/workspaces/acme/projects/{served.project_id}/work-items/"

    async def get(**params: str) -> Any:
        async with httpx.AsyncClient(headers={"X-API-Key": KEY}) as http:
            response = await http.get(base, params=params)
        return response.json()

    def names(body: Any) -> list[str]:
        return [row["name"] for row in body["results"]]

    assert names(await get()) == ["no one", "high one", "low one"]  # -created_at
    assert names(await get(order_by="priority")) == ["high one", "low one", "no one"]
    assert names(await get(order_by="sequence_id", state="ignored")) == [
        "low one",
        "high one",
        "no one",
    ]
    subset = await get(fields="id,name", expand="state")
    assert set(subset["results"][0]) == {"id", "name"}
    expanded = await get(expand="state")
    assert expanded["results"][0]["state"]["group"] == "backlog"
    one = await get(external_id="t-1", external_source="orchbot")
    assert one["name"] == "high one"
    second_page = await get(per_page="2", cursor="2:1:0")
    assert names(second_page) == ["low one"]
    assert second_page["prev_page_results"] is True


async def test_a_refused_request_looks_like_the_recording(served: Served) -> None:
    served.emulator.spend_budget(60)
    url = f"{served.url}/api/v1/workspaces/acme/projects/"
    async with httpx.AsyncClient(headers={"X-API-Key": KEY}) as http:
        refused = await http.get(url)
    assert (refused.status_code, refused.json()) == recorded("18_rate_limited_429")
    assert refused.headers["Retry-After"] == "60"
    assert "X-RateLimit-Remaining" not in refused.headers
    served.clock.advance(60)
    async with httpx.AsyncClient(headers={"X-API-Key": KEY}) as http:
        allowed = await http.get(url)
    assert allowed.status_code == 200 and allowed.headers["X-RateLimit-Remaining"] == "59"
