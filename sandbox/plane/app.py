"""The emulator's HTTP face: Plane's v1 paths, status codes and bodies, over Starlette.
The checks in front of every view live in `guard`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.plane.emulator import PlaneEmulator
from sandbox.plane.guard import (
    Handler,
    NotFound,
    RequestRejected,
    guarded,
    json_body,
    json_response,
    page_not_found,
)
from sandbox.plane.listing import envelope, ordered, subset, window_of
from sandbox.plane.records import (
    BOT,
    GROUPS,
    PRIORITIES,
    RELATION_TYPES,
    STORED_AS,
    USERS,
    Item,
    Project,
)

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ITEM_ORDER_FIELDS = frozenset(Item("", "", 1, "", "", _EPOCH, _EPOCH).json()) | {
    "state__group",
    "state__name",
    "state__sequence",
}
ITEM_ATTRS = {"state": "state_id", "project": "project_id"}


def build_app(emulator: PlaneEmulator) -> Starlette:
    """A Starlette app serving `emulator` under /api/v1/workspaces/{slug}/."""
    views = _Views(emulator)
    base = "/api/v1/workspaces/{slug}"
    table: list[tuple[str, str, Handler, list[str]]] = [
        ("projects", "/projects/", views.projects, ["GET"]),
        ("project", "/projects/{pid}/", views.project, ["GET"]),
        ("states", "/projects/{pid}/states/", views.states, ["GET", "POST"]),
        ("work-items", "/projects/{pid}/work-items/", views.items, ["GET", "POST"]),
        ("work-item", "/projects/{pid}/work-items/{iid}/", views.item, ["GET", "PATCH", "DELETE"]),
        ("work-item-key", "/work-items/{key}/", views.item_by_key, ["GET"]),
        ("members", "/members/", views.members, ["GET"]),
        (
            "relations",
            "/projects/{pid}/work-items/{iid}/relations/",
            views.relations,
            ["GET", "POST"],
        ),
        ("comments", "/projects/{pid}/work-items/{iid}/comments/", views.comments, ["GET", "POST"]),
        # the old `issues/` alias (relations exist only on the work-items path)
        ("work-items", "/projects/{pid}/issues/", views.items, ["GET", "POST"]),
        ("work-item", "/projects/{pid}/issues/{iid}/", views.item, ["GET", "PATCH", "DELETE"]),
        ("work-item-key", "/issues/{key}/", views.item_by_key, ["GET"]),
        ("comments", "/projects/{pid}/issues/{iid}/comments/", views.comments, ["GET", "POST"]),
    ]
    routes = [
        Route(base + path, guarded(emulator, name, view), methods=methods)
        for name, path, view, methods in table
    ]
    routes.append(Route("/api/v1/users/me/", guarded(emulator, "me", views.me), methods=["GET"]))
    return Starlette(routes=routes, exception_handlers={404: page_not_found})


def _choice_error(value: Any) -> list[str]:
    return [f'"{value}" is not a valid choice.']


class _Views:
    """One method per Plane view."""

    def __init__(self, emulator: PlaneEmulator) -> None:
        self.emu = emulator

    # -- people --------------------------------------------------------------------

    async def members(self, request: Request) -> Response:
        """The workspace's members: a plain list, no pagination envelope."""
        return json_response([{**user, "role": 20 if user is BOT else 15}
                              for user in USERS.values()])

    async def me(self, request: Request) -> Response:
        return json_response(dict(BOT))  # every API key of the emulator is the bot's

    # -- projects and states -------------------------------------------------------

    async def projects(self, request: Request) -> Response:
        rows = sorted(self.emu.projects.values(), key=lambda p: p.created_at)
        return self._page(request, rows, Project.json)

    async def project(self, request: Request) -> Response:
        return self._one(self._project(request).json())

    async def states(self, request: Request) -> Response:
        project = self._project(request)
        if request.method == "POST":
            return await self._create_state(request, project)
        rows = sorted(
            (s for s in self.emu.states.values() if s.project_id == project.id),
            key=lambda s: s.sequence,
        )
        fields = request.query_params.get("fields")
        return self._page(request, rows, lambda s: subset(s.json(), fields))

    async def _create_state(self, request: Request, project: Project) -> Response:
        body = await json_body(request)
        group, name = body.get("group"), body.get("name")
        if group == "triage":
            raise RequestRejected(400, {"non_field_errors": ["Cannot create triage state"]})
        if group not in GROUPS:
            raise RequestRejected(400, {"group": _choice_error(group)})
        if not isinstance(name, str) or not name.strip():
            raise RequestRejected(400, {"name": ["This field is required."]})
        twin = next(
            (s for s in self.emu.states.values() if s.project_id == project.id and s.name == name),
            None,
        )
        if twin is not None:
            return json_response(
                {"error": "State with the same name already exists in the project", "id": twin.id},
                409,
            )
        state = self.emu.add_state(project.id, name, group, color=body.get("color", "#60646C"))
        return self._one(state.json())  # Plane answers 200 here, not 201

    # -- work items ----------------------------------------------------------------

    async def items(self, request: Request) -> Response:
        project = self._project(request)
        if request.method == "POST":
            return await self._create_item(request, project)
        query = request.query_params
        if query.get("external_id") and query.get("external_source"):
            return self._one(self._render(self._by_external(project, query), request))
        rows = [i for i in self.emu.items.values() if i.project_id == project.id]
        rows = ordered(
            rows, query.get("order_by", "-created_at"), ITEM_ORDER_FIELDS, self._item_value
        )
        return self._page(request, rows, lambda item: self._render(item, request))

    async def item(self, request: Request) -> Response:
        project = self._project(request)
        item = self.emu.items.get(request.path_params["iid"])
        if item is None or item.project_id != project.id:
            raise NotFound
        if request.method == "DELETE":
            self.emu.delete_item(item.id)
            return Response(status_code=204)
        if request.method == "PATCH":
            return await self._patch_item(request, project, item)
        return self._one(self._render(item, request))

    async def item_by_key(self, request: Request) -> Response:
        try:
            item = self.emu.item(request.path_params["key"])
        except KeyError as exc:
            raise NotFound from exc
        return self._one(self._render(item, request))

    async def _create_item(self, request: Request, project: Project) -> Response:
        body = await json_body(request)
        self._check_item(project, body, creating=True)
        source, external = body.get("external_source"), body.get("external_id")
        if source and external:
            twin = self._find_external(project, source, external)
            if twin is not None:
                return json_response(
                    {
                        "error": "Issue with the same external id and external source "
                        "already exists",
                        "id": twin.id,
                    },
                    409,
                )
        item = self.emu.create_item(
            project,
            body["name"],
            body.get("state") or self.emu.default_state(project.id).id,
            priority=body.get("priority", "none"),
            external_id=external,
            external_source=source,
            description_html=body.get("description_html") or "<p></p>",
        )
        return self._one(item.json(), 201, BackgroundTask(self.emu.deliver_webhooks))

    async def _patch_item(self, request: Request, project: Project, item: Item) -> Response:
        body = await json_body(request)
        self._check_item(project, body, creating=False)
        editable = ("name", "state", "priority", "description_html", "assignees", "labels")
        self.emu.change_item(item, {k: body[k] for k in editable if k in body}, BOT)
        return self._one(item.json(), 200, BackgroundTask(self._settle, item.id))

    async def _settle(self, item_id: str) -> None:
        """After the answer, as Plane's background task: bump updated_at, send webhooks."""
        self.emu.touch(item_id)
        await self.emu.deliver_webhooks()

    def _check_item(self, project: Project, body: dict[str, Any], *, creating: bool) -> None:
        errors: dict[str, list[str]] = {}
        name = body.get("name")
        if creating and not name:
            errors["name"] = ["This field is required."]
        elif "name" in body and (not isinstance(name, str) or not name.strip()):
            errors["name"] = ["This field may not be blank."]
        if "priority" in body and body["priority"] not in PRIORITIES:
            errors["priority"] = _choice_error(body["priority"])
        if "state" in body and body["state"] is not None:
            state = self.emu.states.get(str(body["state"]))
            if state is None or state.project_id != project.id:
                errors["state"] = [f'Invalid pk "{body["state"]}" - object does not exist.']
        if errors:
            raise RequestRejected(400, errors)

    # -- relations and comments ----------------------------------------------------

    async def relations(self, request: Request) -> Response:
        item = self._item(request)
        if request.method == "GET":
            found = self.emu.relations_of(item.id)
            return self._one({kind: [self._ref(i) for i in ids] for kind, ids in found.items()})
        body = await json_body(request)
        kind, issues = body.get("relation_type"), body.get("issues")
        if kind not in RELATION_TYPES:
            raise RequestRejected(400, {"relation_type": _choice_error(kind)})
        if not isinstance(issues, list) or not issues:
            raise RequestRejected(400, {"issues": ["This field is required."]})
        related = self.emu.relate(item, [str(i) for i in issues], kind)
        stored = STORED_AS.get(kind, kind)
        rows = [self._relation_row(other, stored) for other in related]
        # Only the item posted to moves, after the answer; relations send no webhook.
        return self._one(rows, 201, BackgroundTask(self.emu.touch, item.id))

    async def comments(self, request: Request) -> Response:
        item = self._item(request)
        if request.method == "GET":
            rows = sorted(
                (c for c in self.emu.comments.values() if c.item_id == item.id),
                key=lambda c: c.created_at,
                reverse=True,
            )
            return self._page(request, rows, lambda c: c.json())
        body = await json_body(request)
        html = body.get("comment_html")
        if not isinstance(html, str) or not html:
            raise RequestRejected(400, {"comment_html": ["This field is required."]})
        source, external = body.get("external_source"), body.get("external_id")
        twin = next(
            (
                c
                for c in self.emu.comments.values()
                if external and source and (c.external_source, c.external_id) == (source, external)
            ),
            None,
        )
        if twin is not None:
            return json_response(
                {
                    "error": "Work item comment with the same external id and external "
                    "source already exists",
                    "id": twin.id,
                },
                409,
            )
        comment = self.emu.create_comment(item, html, source, external)
        return self._one(comment.json(), 201, BackgroundTask(self._settle, item.id))

    # -- helpers -------------------------------------------------------------------

    def _project(self, request: Request) -> Project:
        project = self.emu.projects.get(request.path_params["pid"])
        if project is None:
            raise NotFound
        return project

    def _item(self, request: Request) -> Item:
        project = self._project(request)
        item = self.emu.items.get(request.path_params["iid"])
        if item is None or item.project_id != project.id:
            raise NotFound
        return item

    def _by_external(self, project: Project, query: Any) -> Item:
        item = self._find_external(project, query["external_source"], query["external_id"])
        if item is None:
            raise NotFound
        return item

    def _find_external(self, project: Project, source: str, external: str) -> Item | None:
        return next(
            (
                i
                for i in self.emu.items.values()
                if i.project_id == project.id
                and (i.external_source, i.external_id) == (source, external)
            ),
            None,
        )

    def _item_value(self, item: Item, name: str) -> Any:
        if name.startswith("state__"):
            return getattr(self.emu.states[item.state_id], name.removeprefix("state__"))
        attr = ITEM_ATTRS.get(name, name)
        return getattr(item, attr) if hasattr(item, attr) else item.json()[name]

    def _render(self, item: Item, request: Request) -> dict[str, Any]:
        row = item.json()
        expand = {e.strip() for e in request.query_params.get("expand", "").split(",")}
        if "state" in expand:
            row["state"] = self.emu.states[item.state_id].brief()
        if "project" in expand:
            row["project"] = self.emu.projects[item.project_id].brief()
        if "assignees" in expand:
            row["assignees"] = [USERS[a] for a in item.assignees if a in USERS]
        return subset(row, request.query_params.get("fields"))

    def _ref(self, item_id: str) -> dict[str, str]:
        item = self.emu.items[item_id]
        return {"project_id": item.project_id, "issue_id": item.id}

    def _relation_row(self, other: Item, kind: str) -> dict[str, Any]:
        row = other.json()
        return {
            "id": other.id,
            "project_id": other.project_id,
            "sequence_id": other.sequence_id,
            "relation_type": kind,
            "name": other.name,
            "state_id": other.state_id,
            "priority": other.priority,
            "created_by": BOT["id"],
            "created_at": row["updated_at"],
            "updated_at": row["updated_at"],
            "updated_by": BOT["id"],
        }

    def _page(self, request: Request, rows: list[Any], render: Callable[[Any], Any]) -> Response:
        body = envelope(rows, window_of(request.query_params), render)
        self.emu.stats.rows_transferred += body["count"]
        return json_response(body)

    def _one(
        self, body: Any, status: int = 200, background: BackgroundTask | None = None
    ) -> Response:
        self.emu.stats.rows_transferred += len(body) if isinstance(body, list) else 1
        return json_response(body, status, background=background)
