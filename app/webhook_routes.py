"""HTTP routes for tracker webhooks, added to the HTTP app through `extra_routes`.

    POST /hooks/<tracker>  a delivery of the configured tracker (its name from its
                           adapter, e.g. /hooks/plane): 401 unless the adapter verifies
                           its signature; 200 at once otherwise. A delivery only asks
                           for a prompt reconcile of its item; the work happens in the
                           reconciler's own loop, never inside the request.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.clock import Clock
from core.errors import InvalidDelivery, UnverifiedDelivery
from core.ports import DeliveryLog, ReconcileHints, TrackerWebhooks

log = logging.getLogger(__name__)


def tracker_webhook_route(reconciler: ReconcileHints, webhooks: TrackerWebhooks,
                          deliveries: DeliveryLog, clock: Clock, *, tracker: str) -> Route:
    """The route that turns verified, first-seen deliveries into reconcile hints. The
    deliveries taken are remembered under the tracker's name, across restarts; the body
    arrives already bounded by the HTTP app's BodyLimit."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            hint = webhooks.read(request.headers, body)
        except UnverifiedDelivery:
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        except InvalidDelivery as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not await deliveries.first_time(tracker, hint.delivery_id, clock.now()):
            return JSONResponse({"ok": True, "duplicate": True})
        queued = hint.item_id is not None and reconciler.hint(hint.project_id, hint.item_id)
        log.debug("%s delivery %s (%s): queued=%s", tracker, hint.delivery_id, hint.what,
                  queued)
        return JSONResponse({"ok": True, "queued": queued})

    return Route(f"/hooks/{tracker}", receive, methods=["POST"])
