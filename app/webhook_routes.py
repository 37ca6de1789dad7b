"""HTTP routes for tracker webhooks, added to the HTTP app through `extra_routes`.

    POST /hooks/plane    a Plane delivery: 401 unless `X-Plane-Signature` is the HMAC of
                         the raw body; 200 at once otherwise. A delivery only asks for a
                         prompt reconcile of its item; the work happens in the
                         reconciler's own loop, never inside the request.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.integrations.plane.webhooks import (
    SIGNATURE_HEADER,
    DeliveryDedup,
    InvalidDelivery,
    parse_delivery,
    verify_signature,
)
from core.ports import ReconcileHints

log = logging.getLogger(__name__)

ITEM_EVENTS = frozenset({"issue", "issue_comment"})


def plane_webhook_route(reconciler: ReconcileHints, secret: str, dedup: DeliveryDedup,
                        *, path: str = "/hooks/plane") -> Route:
    """The route that turns verified, first-seen Plane deliveries into reconcile hints.
    With no secret configured every delivery is refused: an unset secret is never open."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            delivery = parse_delivery(request.headers, body, secret)
        except InvalidDelivery as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not dedup.first_time(delivery.delivery_id):
            return JSONResponse({"ok": True, "duplicate": True})
        queued = False
        if delivery.event in ITEM_EVENTS and delivery.item_id is not None:
            queued = reconciler.hint(delivery.project_id, delivery.item_id)
        log.debug("plane delivery %s (%s %s): queued=%s", delivery.delivery_id,
                  delivery.event, delivery.action, queued)
        return JSONResponse({"ok": True, "queued": queued})

    return Route(path, receive, methods=["POST"])
