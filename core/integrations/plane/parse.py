"""Plane's JSON into tracker models. A body of the wrong shape is a TrackerError here,
never a KeyError or TypeError further in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.clock import parse_iso
from core.errors import TrackerError
from core.integrations.plane.html_text import html_to_text
from core.tracker import Relations, StateGroup, TrackerProject, TrackerState, WorkItem


@dataclass(frozen=True, slots=True)
class Page:
    """Plane's pagination envelope, reduced to what a walk needs."""

    results: list[Mapping[str, Any]]
    next_cursor: str | None


def parse_page(body: Any, what: str) -> Page:
    envelope = _object(body, f"{what} page")
    results = envelope.get("results")
    if not isinstance(results, list):
        raise TrackerError(f"Plane sent a {what} page without a 'results' list")
    rows = [_object(row, what) for row in results]
    more = envelope.get("next_page_results")
    if not isinstance(more, bool):
        raise TrackerError(f"Plane sent a {what} page without 'next_page_results'")
    cursor = envelope.get("next_cursor")
    if more and not isinstance(cursor, str):
        raise TrackerError(f"Plane sent a {what} page with more results but no 'next_cursor'")
    return Page(rows, cursor if more else None)


def parse_project(body: Any) -> TrackerProject:
    raw = _object(body, "project")
    return TrackerProject(
        id=_text(raw, "id", "project"),
        identifier=_text(raw, "identifier", "project"),
        name=_text(raw, "name", "project"),
    )


def parse_state(body: Any) -> TrackerState | None:
    """A state, or None for a triage state (hidden by Plane, never a workflow step)."""
    raw = _object(body, "state")
    if raw.get("is_triage") is True:
        return None
    group = _text(raw, "group", "state")
    try:
        parsed_group = StateGroup(group)
    except ValueError as exc:
        raise TrackerError(f"Plane sent a state with an unknown group {group!r}") from exc
    return TrackerState(
        id=_text(raw, "id", "state"), name=_text(raw, "name", "state"), group=parsed_group
    )


def parse_item(body: Any, project_id: str, identifier: str) -> WorkItem:
    """A work item; `project_id` and `identifier` come from the caller because a
    `fields=` subset may leave the project out and Plane never sends the identifier."""
    raw = _object(body, "work item")
    sequence_id = raw.get("sequence_id")
    if not isinstance(sequence_id, int) or isinstance(sequence_id, bool):
        raise TrackerError("Plane sent a work item without a valid 'sequence_id'")
    return WorkItem(
        id=_text(raw, "id", "work item"),
        project_id=project_of(raw) or project_id,
        key=f"{identifier}-{sequence_id}",
        sequence_id=sequence_id,
        name=_text(raw, "name", "work item"),
        state_id=_ref(raw, "state", "work item"),
        updated_at=_time(raw, "updated_at", "work item"),
        description=html_to_text(_optional_text(raw, "description_html", "work item")),
        priority=_optional_text(raw, "priority", "work item") or "none",
    )


def project_of(body: Any) -> str | None:
    """The project id of an item, whether `project` is an id or expanded; None if absent."""
    raw = _object(body, "work item")
    if raw.get("project") is None:
        return None
    return _ref(raw, "project", "work item")


def identifier_of(body: Any) -> str | None:
    """The project identifier when the item came with `expand=project`."""
    project = _object(body, "work item").get("project")
    if isinstance(project, Mapping) and isinstance(project.get("identifier"), str):
        return str(project["identifier"])
    return None


def parse_relations(body: Any) -> Relations:
    raw = _object(body, "relations")
    return Relations(
        blocked_by=_relation_ids(raw, "blocked_by"),
        blocking=_relation_ids(raw, "blocking"),
    )


def parse_created_id(body: Any, what: str) -> str:
    """The id of what was created, or of the existing twin named by a 409."""
    return _text(_object(body, what), "id", what)


def _relation_ids(raw: Mapping[str, Any], kind: str) -> tuple[str, ...]:
    if kind not in raw:  # Plane always sends every kind, empty or not
        raise TrackerError(f"Plane sent relations without '{kind}'")
    entries = raw[kind]
    if not isinstance(entries, list):
        raise TrackerError(f"Plane sent relations with '{kind}' that is not a list")
    return tuple(_text(_object(entry, "relation"), "issue_id", "relation") for entry in entries)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TrackerError(f"Plane sent a {what} that is not a JSON object")
    return value


def _text(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise TrackerError(f"Plane sent a {what} without a valid '{key}'")
    return value


def _optional_text(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TrackerError(f"Plane sent a {what} with a '{key}' that is not text")
    return value


def _ref(raw: Mapping[str, Any], key: str, what: str) -> str:
    """A foreign key: an id, or an expanded object carrying one."""
    value = raw.get(key)
    if isinstance(value, Mapping):
        return _text(value, "id", f"{what} {key}")
    return _text(raw, key, what)


def _time(raw: Mapping[str, Any], key: str, what: str) -> datetime:
    text = _text(raw, key, what)
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise TrackerError(f"Plane sent a {what} with a '{key}' that is not a time") from exc
