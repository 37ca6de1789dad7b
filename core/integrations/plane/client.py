"""PlaneClient: the Tracker port over Plane's REST API v1.

Requests, budget, retries and error translation live in `plane_http`; JSON shapes in
`plane_parse`. This module knows Plane's paths and which fields orch asks for.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from core.clock import Clock
from core.errors import TrackerError
from core.integrations.plane.config import PlaneAccess
from core.integrations.plane.http import HttpRetryPolicy, PlaneHttp, PlaneStats
from core.integrations.plane.parse import (
    identifier_of,
    parse_created_id,
    parse_item,
    parse_page,
    parse_project,
    parse_relations,
    parse_state,
    project_of,
)
from core.integrations.plane.people import PlaneMembers
from core.ratebudget import RateBudget
from core.tracker import (
    DEFAULT_PER_PAGE,
    ItemPage,
    Relations,
    TrackerProject,
    TrackerState,
    WorkItem,
)

# Only what WorkItem needs: a 10,000-item scan moves a tenth of the bytes.
ITEM_FIELDS = ("id,project,sequence_id,name,state,updated_at,updated_by,priority,"
               "description_html")
STATE_FIELDS = "id,name,group,is_triage"
MAX_PER_PAGE = 1000  # Plane answers 400 above this
_KEY = re.compile(r"^[A-Za-z0-9]+-\d+$")


NAME = "plane"  # the tracker's name in orch: task and dependency source, actor, webhook


class PlaneClient:
    """Tracker over Plane. Share one RateBudget between every client of the same key."""

    name = NAME

    def __init__(
        self,
        api_url: str,
        api_key: str,
        workspace: str,
        *,
        clock: Clock,
        budget: RateBudget | None = None,
        policy: HttpRetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        rng: random.Random | None = None,
        external_source: str = "orch",
    ) -> None:
        self._http = PlaneHttp(
            api_url,
            api_key,
            workspace,
            clock=clock,
            budget=budget or RateBudget(clock),
            policy=policy,
            transport=transport,
            timeout_s=timeout_s,
            rng=rng,
        )
        self._external_source = external_source
        self._identifiers: dict[str, str] = {}
        self._members = PlaneMembers(self._http, clock)

    @classmethod
    def from_config(
        cls, access: PlaneAccess, clock: Clock, budget: RateBudget | None = None,
        policy: HttpRetryPolicy | None = None,
    ) -> PlaneClient:
        """The client orch runs with; pass the one budget shared by this API key."""
        return cls(
            access.plane_api_url,
            access.plane_api_token,
            access.plane_workspace_slug,
            clock=clock,
            budget=budget or RateBudget(clock, access.plane_rate_limit_per_min),
            policy=policy,
        )

    def __repr__(self) -> str:
        return f"PlaneClient({self._http!r})"

    @property
    def stats(self) -> PlaneStats:
        """calls, retries, rate_limit_waits, last_error, server_remaining."""
        return self._http.stats

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PlaneClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def projects(self) -> list[TrackerProject]:
        projects = [parse_project(raw) async for raw in self._walk("projects/", {})]
        self._identifiers.update({p.id: p.identifier for p in projects})
        return projects

    async def states(self, project_id: str) -> list[TrackerState]:
        path = f"projects/{_seg(project_id)}/states/"
        parsed = [parse_state(raw) async for raw in self._walk(path, {"fields": STATE_FIELDS})]
        return [state for state in parsed if state is not None]

    async def items_page(
        self,
        project_id: str,
        *,
        cursor: str | None = None,
        per_page: int = DEFAULT_PER_PAGE,
        order_by: str = "-updated_at",
    ) -> ItemPage:
        params = {
            "per_page": str(min(per_page, MAX_PER_PAGE)),
            "order_by": order_by,
            "fields": ITEM_FIELDS,
        }
        if cursor is not None:
            params["cursor"] = cursor
        reply = await self._http.send(
            "GET", f"projects/{_seg(project_id)}/work-items/", params=params
        )
        page = parse_page(reply.body, "work item")
        if len(page.results) > int(params["per_page"]):  # do not parse a runaway page
            raise TrackerError(f"Plane returned {len(page.results)} work items for a page of "
                               f"{params['per_page']}")
        identifier = await self._identifier(project_id)
        items = tuple([await self._named(parse_item(raw, project_id, identifier), raw)
                       for raw in page.results])
        return ItemPage(items, page.next_cursor)

    async def item(self, project_id: str, item_id: str) -> WorkItem:
        # Plane resolves keys (ORCH-42) only on the workspace-level path.
        path = f"work-items/{item_id}/" if _KEY.match(item_id) else _item_path(project_id, item_id)
        reply = await self._http.send("GET", path, params={"fields": ITEM_FIELDS})
        return await self._item_from(reply.body, project_id)

    async def set_state(self, project_id: str, item_id: str, state_id: str) -> None:
        path = _item_path(project_id, item_id)
        reply = await self._http.send("PATCH", path, json_body={"state": state_id})
        # Checked for shape only: its updated_at is stale by design (Plane bumps it again).
        await self._item_from(reply.body, project_id)

    async def comment(self, project_id: str, item_id: str, html: str, external_id: str) -> str:
        body = {
            "comment_html": html,
            "external_source": self._external_source,
            "external_id": external_id,
        }
        path = f"{_item_path(project_id, item_id)}comments/"
        # 409: a comment with this external id exists already; posting again is a success.
        reply = await self._http.send("POST", path, json_body=body, accept=(409,))
        return parse_created_id(reply.body, "comment")

    async def relations(self, project_id: str, item_id: str) -> Relations:
        path = f"{_item_path(project_id, item_id)}relations/"
        return parse_relations((await self._http.send("GET", path)).body)

    async def _item_from(self, body: Any, project_id: str) -> WorkItem:
        project = project_of(body) or project_id
        identifier = identifier_of(body) or await self._identifier(project)
        return await self._named(parse_item(body, project, identifier), body)

    async def _named(self, item: WorkItem, raw: Any) -> WorkItem:
        """The item with the name of whoever changed it last (see PlaneMembers)."""
        name = await self._members.name_of(raw.get("updated_by"))
        return replace(item, changed_by=name) if name else item

    async def _identifier(self, project_id: str) -> str:
        """The key prefix of a project: one GET the first time, then remembered."""
        if project_id not in self._identifiers:
            reply = await self._http.send("GET", f"projects/{_seg(project_id)}/")
            self._identifiers[project_id] = parse_project(reply.body).identifier
        return self._identifiers[project_id]

    async def _walk(self, path: str, params: Mapping[str, str]) -> AsyncIterator[Mapping[str, Any]]:
        """Every row of a paginated listing."""
        cursor: str | None = None
        while True:
            query = {**params, "per_page": str(MAX_PER_PAGE)}
            if cursor is not None:
                query["cursor"] = cursor
            page = parse_page((await self._http.send("GET", path, params=query)).body, path)
            for row in page.results:
                yield row
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor:
                raise TrackerError(f"Plane repeated the cursor of {path}; stopping the walk")
            cursor = page.next_cursor


def _seg(value: str) -> str:
    """One path segment: ids can come from webhook bodies, so no `/` or `?` gets through."""
    return quote(value, safe="")


def _item_path(project_id: str, item_id: str) -> str:
    return f"projects/{_seg(project_id)}/work-items/{_seg(item_id)}/"
