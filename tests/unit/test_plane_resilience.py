"""PlaneClient when Plane misbehaves: garbage bodies, dropped connections, a shared
budget, and an API key that must never leak."""

from __future__ import annotations

import logging

import httpx
import pytest

from core.errors import TrackerError, TrackerUnavailable
from core.integrations.plane.client import PlaneClient
from core.integrations.plane.parse import parse_state
from core.ratebudget import RateBudget
from tests.plane_support import KEY, JumpClock, recorded
from tests.unit.test_plane_contract import PID


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"results": {}}',
        b'{"results": [], "next_page_results": true}',
        b'{"results": [{"id": "x"}], "next_page_results": false}',
        b'{"results": [{"id": "x", "sequence_id": "7", "name": "n", "state": "s",'
        b' "updated_at": "2026-11-21T08:07:18Z"}], "next_page_results": false}',
        b'{"results": [{"id": "x", "sequence_id": 7, "name": "n", "state": "s",'
        b' "updated_at": "yesterday"}], "next_page_results": false}',
    ],
)
async def test_garbage_is_a_tracker_error_never_a_key_error(body: bytes) -> None:
    clock = JumpClock()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with PlaneClient(
        "http://plane.test", KEY, "acme", clock=clock, transport=transport
    ) as client:
        with pytest.raises(TrackerError):
            await client.items_page(PID)


def test_a_state_in_an_unknown_group_is_garbage() -> None:
    with pytest.raises(TrackerError, match="unknown group"):
        parse_state({"id": "s", "name": "Odd", "group": "doing"})
    assert parse_state({"id": "t", "name": "Triage", "group": "triage", "is_triage": True}) is None


async def test_server_disconnected_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    clock, attempts = JumpClock(), []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return recorded("02_states_list")

    caplog.set_level(logging.DEBUG)
    async with PlaneClient(
        "http://plane.test", KEY, "acme", clock=clock, transport=httpx.MockTransport(flaky)
    ) as client:
        assert len(await client.states(PID)) == 5
        assert client.stats.retries == 2 and client.stats.calls == 3
        assert "Server disconnected" in (client.stats.last_error or "")
    assert len(clock.slept) == 2
    assert KEY not in caplog.text


async def test_transport_failure_exhausts_into_unavailable_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    caplog.set_level(logging.DEBUG)
    clock = JumpClock()
    async with PlaneClient(
        "http://plane.test", KEY, "acme", clock=clock, transport=httpx.MockTransport(down)
    ) as client:
        with pytest.raises(TrackerUnavailable) as caught:
            await client.projects()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert client.stats.calls == 4
        for text in (str(caught.value), repr(client), caplog.text, str(client.stats)):
            assert KEY not in text


async def test_every_attempt_spends_the_shared_budget() -> None:
    clock = JumpClock()
    budget = RateBudget(clock, 3)
    transport = httpx.MockTransport(lambda request: recorded("02_states_list"))
    async with (
        PlaneClient(
            "http://plane.test", KEY, "acme", clock=clock, budget=budget, transport=transport
        ) as one,
        PlaneClient(
            "http://plane.test", KEY, "acme", clock=clock, budget=budget, transport=transport
        ) as two,
    ):
        for client in (one, two, one, two, one, two, one):  # 3 + 3 + 1
            await client.states(PID)
    assert budget.waits == 2
    assert clock.slept == [60.0, 60.0]
