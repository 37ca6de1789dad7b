"""POST /hooks/plane: real recorded deliveries, signatures, de-duplication, and the
emulator's own deliveries driving targeted reconciles (ET-002 through webhooks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from app.webhook_routes import tracker_webhook_route
from core.clock import ManualClock
from core.config import DEFAULT_STATE_NAMES
from core.integrations.plane.webhooks import PlaneWebhooks, sign
from core.ports import ReconcileHints
from sandbox.plane import SentDelivery
from storage.database import Database
from storage.instance import SqliteDeliveryLog
from tests.plane_rig import Rig, plane_rig

RECORDED = Path(__file__).resolve().parents[1] / "fixtures/plane/webhooks"
SECRET = "plane_wh_3820d598d2f44f8fa5ec64bb25a5dacd"  # the recordings' secret
ITEM = "ee8349bc-df7e-4ce2-a639-7f4e0c43779a"
PROJECT = "194938ae-af55-47b7-b5d1-aff050418197"


def plane_route(hints: ReconcileHints, secret: str, deliveries: SqliteDeliveryLog) -> Route:
    return tracker_webhook_route(hints, PlaneWebhooks(secret), deliveries, ManualClock(),
                                 tracker="plane")


@pytest.fixture
async def deliveries(tmp_path: Path) -> AsyncIterator[SqliteDeliveryLog]:
    """Deliveries remembered as orch remembers them: in SQLite."""
    db = await Database.open(tmp_path / "deliveries.db")
    yield SqliteDeliveryLog(db)
    await db.close()


class Hints:
    """Records hints as the Reconciler would queue them."""

    def __init__(self) -> None:
        self.got: list[tuple[str | None, str]] = []

    def hint(self, project_id: str | None, item_id: str) -> bool:
        self.got.append((project_id, item_id))
        return project_id is not None


def recorded(fragment: str) -> tuple[dict[str, str], bytes]:
    path = next(p for p in sorted(RECORDED.glob("*.json")) if fragment in p.name)
    record = json.loads(path.read_text(encoding="utf-8"))
    headers = {k: v for k, v in record["headers"].items()
               if k.lower() not in ("host", "content-length")}
    return headers, record["raw_body"].encode()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with plane_rig(tmp_path) as made:
        yield made


@pytest.fixture
def hints() -> Hints:
    return Hints()


@pytest.fixture
async def http(hints: Hints, deliveries: SqliteDeliveryLog
               ) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[plane_route(hints, SECRET, deliveries)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orch.test") as client:
        yield client


async def test_a_recorded_state_change_becomes_one_hint(http: httpx.AsyncClient,
                                                        hints: Hints) -> None:
    headers, body = recorded("1795248452.299588")
    response = await http.post("/hooks/plane", content=body, headers=headers)
    assert response.status_code == 200 and response.json() == {"ok": True, "queued": True}
    assert hints.got == [(PROJECT, ITEM)]


async def test_a_comment_delivery_hints_at_its_item(http: httpx.AsyncClient,
                                                    hints: Hints) -> None:
    headers, body = recorded("1795248558.506963")
    assert (await http.post("/hooks/plane", content=body, headers=headers)).status_code == 200
    assert hints.got == [(PROJECT, ITEM)]


async def test_a_project_delivery_is_accepted_and_hints_nothing(http: httpx.AsyncClient,
                                                                hints: Hints) -> None:
    headers, body = recorded("_project")
    response = await http.post("/hooks/plane", content=body, headers=headers)
    assert response.json() == {"ok": True, "queued": False} and hints.got == []


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "sha256=whatever"])
async def test_a_bad_or_missing_signature_is_401_and_nothing_happens(
        http: httpx.AsyncClient, hints: Hints, signature: str | None) -> None:
    headers, body = recorded("1795248452.299588")
    headers = {k: v for k, v in headers.items() if k != "X-Plane-Signature"}
    if signature is not None:
        headers["X-Plane-Signature"] = signature
    response = await http.post("/hooks/plane", content=body, headers=headers)
    assert response.status_code == 401 and hints.got == []
    again = await http.post("/hooks/plane", content=body, headers=recorded("1795248452.299588")[0])
    assert again.status_code == 200  # a refused delivery did not mark its id as seen


async def test_a_tampered_body_is_401(http: httpx.AsyncClient, hints: Hints) -> None:
    headers, body = recorded("1795248452.299588")
    response = await http.post("/hooks/plane", content=body.replace(b"updated", b"deleted"),
                               headers=headers)
    assert response.status_code == 401 and hints.got == []


async def test_a_repeated_delivery_is_accepted_once(http: httpx.AsyncClient,
                                                    hints: Hints) -> None:
    headers, body = recorded("1795248452.299588")
    first = await http.post("/hooks/plane", content=body, headers=headers)
    second = await http.post("/hooks/plane", content=body, headers=headers)
    assert first.json()["queued"] and second.json() == {"ok": True, "duplicate": True}
    assert len(hints.got) == 1


async def test_a_signed_but_malformed_delivery_is_400(http: httpx.AsyncClient,
                                                      hints: Hints) -> None:
    body = b'{"event": "issue"}'
    headers = {"X-Plane-Signature": sign(SECRET, body), "X-Plane-Delivery": "d-1"}
    response = await http.post("/hooks/plane", content=body, headers=headers)
    assert response.status_code == 400 and hints.got == []


async def test_no_secret_means_every_delivery_is_refused(
        hints: Hints, deliveries: SqliteDeliveryLog) -> None:
    app = Starlette(routes=[plane_route(hints, "", deliveries)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://orch.test") as client:
        headers, body = recorded("1795248452.299588")
        assert (await client.post("/hooks/plane", content=body, headers=headers)).status_code == 401
    assert hints.got == []


async def test_et002_through_the_webhook_route_stays_silent(
        rig: Rig, deliveries: SqliteDeliveryLog) -> None:
    """A Done item aliased as approved, touched again and again: every delivery is
    verified and reconciled, and nothing is ever said."""
    reconciler = rig.reconciler(names={**DEFAULT_STATE_NAMES, "approved": "Done"})
    sent: list[SentDelivery] = []

    async def capture(url: str, headers: Mapping[str, str], body: bytes) -> None:
        sent.append(SentDelivery(url, dict(headers), body))

    rig.emulator.outbox.url, rig.emulator.outbox.secret = "http://orch.test/hooks/plane", SECRET
    rig.emulator.outbox.sender = capture
    item = rig.emulator.add_item("ORCH", "Shipped", state="Done")
    await reconciler.tick()
    for n in range(30):
        rig.emulator.add_comment(item.id, f"<p>note {n}</p>")
        rig.emulator.change_item(item, {"priority": ["low", "high"][n % 2]}, {"id": "x"})
    await rig.emulator.deliver_webhooks()

    app = Starlette(routes=[plane_route(reconciler, SECRET, deliveries)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://orch.test") as client:
        answers: list[Any] = []
        for delivery in sent:
            response = await client.post("/hooks/plane", content=delivery.body,
                                         headers=dict(delivery.headers))
            answers.append(response.json())
            await reconciler.work_off()

    assert len(sent) >= 60 and all(a.get("ok") for a in answers)
    assert rig.notifier.published == []
    assert reconciler.stats.skipped_terminal_total >= 2
