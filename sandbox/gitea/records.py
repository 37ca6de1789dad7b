"""The emulator's records and their JSON in the shapes of Gitea 1.16 (see the fixtures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.gitea.bare import BareRepo

MERGE_STYLES = frozenset({"merge", "rebase", "rebase-merge", "squash"})
SEVERITY = ("error", "failure", "warning", "pending", "success")


class Refusal(Exception):
    """An answer other than 2xx: the status and Gitea's message (or a raw body)."""

    def __init__(self, status: int, message: str, raw: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.raw = raw


NOT_FOUND = "The target couldn't be found."
TRY_LATER = "Please try again later"
CHECKS_RED = "not allowed to merge [reason: Not all required status checks successful]"


@dataclass(frozen=True, slots=True)
class User:
    login: str
    is_admin: bool = False
    can_merge: bool = True

    def json(self) -> dict[str, Any]:
        return {"id": abs(hash(self.login)) % 10_000, "login": self.login, "full_name": "",
                "email": f"{self.login}@example.invalid", "is_admin": self.is_admin,
                "username": self.login}


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    base_sha: str
    merge_base: str
    created_at: datetime
    user: User
    state: str = "open"
    merged: bool = False
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    checking: int = 0  # reads still answered "checking" (mergeable false, merge 405)
    conflicted: bool = False
    branch_deleted: bool = False

    def json(self, repo: Repo, base_url: str) -> dict[str, Any]:
        head_ref = f"refs/pull/{self.number}/head" if self.branch_deleted else self.head
        return {
            "id": self.number, "number": self.number,
            "url": f"{base_url}/{repo.full_name}/pulls/{self.number}",
            "html_url": f"{base_url}/{repo.full_name}/pulls/{self.number}",
            "user": self.user.json(), "title": self.title, "body": self.body,
            "state": self.state, "is_locked": False, "comments": 0,
            "mergeable": self.checking == 0 and not self.conflicted,
            "merged": self.merged,
            "merged_at": _iso(self.merged_at),
            "merge_commit_sha": self.merge_commit_sha,
            "merged_by": self.user.json() if self.merged else None,
            "base": {"label": self.base, "ref": self.base, "sha": self.base_sha,
                     "repo_id": repo.id, "repo": repo.json(base_url)},
            "head": {"label": self.head, "ref": head_ref, "sha": self.head_sha,
                     "repo_id": repo.id, "repo": repo.json(base_url)},
            "merge_base": self.merge_base,
            "created_at": _iso(self.created_at), "updated_at": _iso(self.created_at),
            "closed_at": _iso(self.merged_at),
        }


@dataclass(frozen=True, slots=True)
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str
    target_url: str
    created_at: datetime

    def json(self, repo: Repo, base_url: str) -> dict[str, Any]:
        return {"id": self.id, "status": self.state, "target_url": self.target_url,
                "description": self.description, "context": self.context,
                "url": f"{base_url}/api/v1/repos/{repo.full_name}/statuses/{self.sha}",
                "created_at": _iso(self.created_at), "updated_at": _iso(self.created_at)}


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    bare: BareRepo
    pulls: dict[int, Pull] = field(default_factory=dict)
    statuses: list[Status] = field(default_factory=list)
    protected: dict[str, tuple[str, ...]] = field(default_factory=dict)  # branch → contexts
    known_refs: dict[str, str] = field(default_factory=dict)
    collaborators: set[str] = field(default_factory=set)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def json(self, base_url: str) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "full_name": self.full_name,
                "owner": {"login": self.owner, "username": self.owner},
                "default_branch": "main", "empty": False, "private": False,
                "clone_url": str(self.bare.path), "html_url": f"{base_url}/{self.full_name}",
                "allow_merge_commits": True, "allow_rebase": True,
                "allow_rebase_explicit": True, "allow_squash_merge": True,
                "permissions": {"admin": True, "push": True, "pull": True}}

    def latest_statuses(self, sha: str) -> list[Status]:
        latest: dict[str, Status] = {}
        for status in self.statuses:
            if status.sha == sha:
                latest.pop(status.context, None)
                latest[status.context] = status
        return sorted(latest.values(), key=lambda s: s.id)


def worst(states: list[str]) -> str:
    if any(state not in SEVERITY for state in states):
        return "error"
    for state in SEVERITY:
        if state in states:
            return state
    return ""


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
