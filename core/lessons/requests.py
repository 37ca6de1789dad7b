"""Outside input (chat arguments, HTTP query and JSON) turned into journal requests.

The chat and the HTTP API accept the same filters and fields; both parse them here so
they refuse the same things with the same words. Every parser returns either the
request or a message saying what is wrong, never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from core.clock import parse_iso
from core.lessons.journal import (
    LESSON_TYPE,
    MAX_LIMIT,
    OPEN,
    TEXT_LIMIT,
    Attribution,
    LessonDraft,
    LessonFilter,
    LessonStatus,
    LessonUpdate,
    Source,
)

WORK_ITEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
STAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")

FILTER_NAMES = {
    "type": "lesson_type", "lesson_type": "lesson_type", "status": "status", "repo": "repo",
    "stage": "stage", "key": "work_item", "work_item": "work_item", "since": "since",
    "limit": "limit",
}
STATUS_FILTERS = frozenset({*LessonStatus, OPEN})
DRAFT_TEXTS = ("work_item", "stage", "agent_role", "repo", "detail", "root_cause",
               "suggestion", "related_task", "target_repo", "target_domain")
UPDATE_TEXTS = ("target_repo", "target_domain", "related_task", "root_cause", "suggestion")


def parse_filter(values: Mapping[str, str], *, default_limit: int = 20,
                 max_limit: int = MAX_LIMIT) -> LessonFilter | str:
    """A LessonFilter from name=value pairs (names as in FILTER_NAMES)."""
    found: dict[str, Any] = {"limit": default_limit}
    for name, raw in values.items():
        target = FILTER_NAMES.get(name)
        if target is None:
            return f"unknown filter {name!r}"
        value = _filter_value(target, raw.strip(), max_limit)
        if isinstance(value, _Problem):
            return value.text
        found[target] = value
    return LessonFilter(**found)


def parse_draft(body: Mapping[str, Any]) -> LessonDraft | str:
    """A manual lesson from a JSON object; `lesson_type` is required."""
    kind = body.get("lesson_type")
    if not isinstance(kind, str) or not kind.strip():
        return "lesson_type is required"
    if not LESSON_TYPE.match(kind.strip().lower()):
        return "lesson_type must be a word of lowercase letters, digits and _ (max 40)"
    texts = _texts(body, DRAFT_TEXTS)
    if isinstance(texts, str):
        return texts
    task_id = body.get("task_id")
    if task_id is not None and (not isinstance(task_id, int) or isinstance(task_id, bool)):
        return "task_id must be an integer"
    attribution = _choice(body.get("attribution"), Attribution, "attribution")
    if isinstance(attribution, _Problem):
        return attribution.text
    return LessonDraft(kind.strip().lower(), Source.MANUAL, task_id=task_id,
                       attribution=attribution, **texts)


def parse_update(body: Mapping[str, Any]) -> LessonUpdate | str:
    """The fields to change from a JSON object; unknown fields are refused."""
    allowed = {"status", "attribution", "version", *UPDATE_TEXTS}
    unknown = sorted(set(body) - allowed)
    if unknown:
        return f"cannot update {', '.join(unknown)}"
    texts = _texts(body, UPDATE_TEXTS)
    if isinstance(texts, str):
        return texts
    status = _choice(body.get("status"), LessonStatus, "status")
    attribution = _choice(body.get("attribution"), Attribution, "attribution")
    for parsed in (status, attribution):
        if isinstance(parsed, _Problem):
            return parsed.text
    change = LessonUpdate(status=status, attribution=attribution, **texts)
    return "nothing to update" if change.is_empty else change


class _Problem:
    def __init__(self, text: str) -> None:
        self.text = text


def _filter_value(target: str, raw: str, max_limit: int) -> object:
    checks: dict[str, Any] = {
        "lesson_type": lambda: _matching(raw.lower(), LESSON_TYPE, "type"),
        "status": lambda: raw.lower() if raw.lower() in STATUS_FILTERS else _Problem(
            "status must be new, in_progress, closed or open"),
        "repo": lambda: _matching(raw, REPO, "repo"),
        "stage": lambda: _matching(raw, STAGE, "stage"),
        "work_item": lambda: _matching(raw.upper(), WORK_ITEM, "work item"),
        "since": lambda: _since(raw),
        "limit": lambda: _limit(raw, max_limit),
    }
    return checks[target]()


def _matching(raw: str, pattern: re.Pattern[str], what: str) -> str | _Problem:
    return raw if pattern.match(raw) else _Problem(f"that {what} is not valid")


def _since(raw: str) -> object:
    try:
        return parse_iso(raw)
    except ValueError:
        return _Problem("since must be an ISO time, e.g. 2026-11-21T09:00:00Z")


def _limit(raw: str, max_limit: int) -> int | _Problem:
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= max_limit:
        return int(raw)
    return _Problem(f"limit must be a number from 1 to {max_limit}")


def _texts(body: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str | None] | str:
    found: dict[str, str | None] = {}
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be text"
        if isinstance(value, str) and len(value) > TEXT_LIMIT:
            return f"{name} is longer than {TEXT_LIMIT} characters"
        found[name] = (value.strip() or None) if isinstance(value, str) else None
    return found


def _choice(value: object, allowed: type[StrEnum], name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in set(allowed):
        return allowed(value.lower())
    return _Problem(f"{name} must be one of {', '.join(allowed)}")
