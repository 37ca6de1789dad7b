"""The emulator's rows and their JSON shapes, as Plane 1.3 answers them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.clock import utc_iso

GROUPS = ("backlog", "unstarted", "started", "completed", "cancelled")
PRIORITIES = ("urgent", "high", "medium", "low", "none")
RELATION_TYPES = (
    "blocking",
    "blocked_by",
    "duplicate",
    "relates_to",
    "start_before",
    "start_after",
    "finish_before",
    "finish_after",
)
# Plane stores one direction of each pair; the other is read reversed.
STORED_AS = {
    "blocking": "blocked_by",
    "start_after": "start_before",
    "finish_after": "finish_before",
}
REVERSE_OF = {
    "blocked_by": "blocking",
    "start_before": "start_after",
    "finish_before": "finish_after",
}

WORKSPACE_ID = "d9474ebf-d161-47c4-90e5-be9d2f56714e"
BOT = {
    "id": "45a6e063-9a0d-43d0-88cc-00723a5b43f6",
    "first_name": "Orch",
    "last_name": "Bot",
    "email": "bot@acme.test",
    "avatar": "",
    "avatar_url": None,
    "display_name": "orchbot",
}
HUMAN = {
    "id": "a91995cd-6d39-40eb-8558-b7efc89b8103",
    "first_name": "Alice",
    "last_name": "Dev",
    "email": "dev@acme.test",
    "avatar": "",
    "avatar_url": None,
    "display_name": "alice",
}
USERS = {BOT["id"]: BOT, HUMAN["id"]: HUMAN}


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Project:
    id: str
    identifier: str
    name: str
    created_at: datetime
    description: str = ""
    next_sequence: int = 1

    def json(self) -> dict[str, Any]:
        stamp = utc_iso(self.created_at)
        return {
            "id": self.id,
            "total_members": 1,
            "is_member": True,
            "member_role": 20,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
            "name": self.name,
            "description": self.description,
            "network": 2,
            "identifier": self.identifier,
            "archived_at": None,
            "timezone": "UTC",
            "external_source": None,
            "external_id": None,
            "created_by": BOT["id"],
            "workspace": WORKSPACE_ID,
            "default_state": None,
        }

    def brief(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identifier": self.identifier,
            "name": self.name,
            "cover_image": None,
            "icon_prop": None,
            "emoji": None,
            "description": self.description,
            "cover_image_url": None,
        }


@dataclass
class State:
    id: str
    project_id: str
    name: str
    group: str
    sequence: float
    created_at: datetime
    color: str = "#60646C"
    default: bool = False
    description: str = ""
    external_source: str | None = None
    external_id: str | None = None

    def json(self) -> dict[str, Any]:
        stamp = utc_iso(self.created_at)
        return {
            "id": self.id,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
            "name": self.name,
            "description": self.description,
            "color": self.color,
            "slug": self.name.lower().replace(" ", "-"),
            "sequence": self.sequence,
            "group": self.group,
            "is_triage": False,
            "default": self.default,
            "external_source": self.external_source,
            "external_id": self.external_id,
            "created_by": BOT["id"],
            "updated_by": None,
            "project": self.project_id,
            "workspace": WORKSPACE_ID,
        }

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": self.color, "group": self.group}


@dataclass
class Item:
    id: str
    project_id: str
    sequence_id: int
    name: str
    state_id: str
    created_at: datetime
    updated_at: datetime
    priority: str = "none"
    description_html: str = "<p></p>"
    assignees: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    completed_at: datetime | None = None
    external_source: str | None = None
    external_id: str | None = None
    updated_by: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type_id": None,
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at),
            "deleted_at": None,
            "point": None,
            "name": self.name,
            "description_html": self.description_html,
            "description_binary": None,
            "priority": self.priority,
            "start_date": None,
            "target_date": None,
            "sequence_id": self.sequence_id,
            "sort_order": 65535.0 + 10000 * (self.sequence_id - 1),
            "completed_at": utc_iso(self.completed_at) if self.completed_at else None,
            "archived_at": None,
            "is_draft": False,
            "external_source": self.external_source,
            "external_id": self.external_id,
            "created_by": BOT["id"],
            "updated_by": self.updated_by,
            "project": self.project_id,
            "workspace": WORKSPACE_ID,
            "parent": None,
            "state": self.state_id,
            "estimate_point": None,
            "type": None,
            "assignees": list(self.assignees),
            "labels": list(self.labels),
        }


@dataclass
class Comment:
    id: str
    project_id: str
    item_id: str
    comment_html: str
    created_at: datetime
    external_source: str | None = None
    external_id: str | None = None

    def json(self) -> dict[str, Any]:
        stamp = utc_iso(self.created_at)
        return {
            "id": self.id,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
            "comment_html": self.comment_html,
            "attachments": [],
            "access": "INTERNAL",
            "external_source": self.external_source,
            "external_id": self.external_id,
            "edited_at": None,
            "created_by": BOT["id"],
            "updated_by": BOT["id"],
            "project": self.project_id,
            "workspace": WORKSPACE_ID,
            "issue": self.item_id,
            "actor": BOT["id"],
            "parent": None,
        }
