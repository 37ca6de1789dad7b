"""Gitea/Forgejo JSON → core's forge types. Tolerant of versions: the 1.16 line puts a
status's state in `status`, newer servers in `state`; fields may be absent or null."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.clock import parse_iso
from core.errors import ForgeError
from core.ports import CombinedStatus, CommitStatus, PullRequest, StatusState, combine

_STATES = {s.value: s for s in StatusState}


@dataclass(frozen=True, slots=True)
class RepoAccess:
    """A repository as `orch doctor` checks it: found, and what the token may do."""

    full_name: str
    default_branch: str
    can_push: bool
    is_admin: bool
    allows_merge_commits: bool


def pull_request(data: Any) -> PullRequest:
    body = _mapping(data, "pull request")
    head = _mapping(body.get("head") or {}, "pull request head")
    base = _mapping(body.get("base") or {}, "pull request base")
    try:
        number = int(body["number"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ForgeError("forge sent a pull request without a number") from exc
    merged_at = body.get("merged_at")
    return PullRequest(
        number=number,
        state=str(body.get("state") or "open"),
        merged=bool(body.get("merged")),
        mergeable=bool(body.get("mergeable")),
        head_ref=_branch_name(head),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        base_sha=str(base.get("sha") or ""),
        title=str(body.get("title") or ""),
        url=str(body.get("html_url") or body.get("url") or ""),
        merge_commit_sha=body.get("merge_commit_sha") or None,
        merged_at=parse_iso(merged_at) if isinstance(merged_at, str) and merged_at else None,
    )


def _branch_name(head: Mapping[str, Any]) -> str:
    # After a merge that deleted the branch, `ref` becomes refs/pull/N/head; the label
    # keeps the branch's name.
    ref = str(head.get("ref") or "")
    if ref.startswith("refs/pull/"):
        return str(head.get("label") or ref)
    return ref


def pull_requests(data: Any) -> list[PullRequest]:
    if not isinstance(data, list):
        raise ForgeError("forge sent a pull request list that is not a list")
    return [pull_request(item) for item in data]


def commit_status(data: Any) -> CommitStatus:
    body = _mapping(data, "commit status")
    raw = body.get("state") or body.get("status") or ""
    state = _STATES.get(str(raw).lower())
    if state is None:
        # A server stores any state it is sent (see 31_status_create_bad_state): read an
        # unknown one as an error rather than green.
        state = StatusState.ERROR
    return CommitStatus(
        context=str(body.get("context") or ""),
        state=state,
        description=str(body.get("description") or ""),
        target_url=str(body.get("target_url") or ""),
    )


def combined_status(data: Any, sha: str) -> CombinedStatus:
    """The combined answer, re-combined from its statuses: latest per context wins."""
    body = _mapping(data, "combined status")
    raw = body.get("statuses") or []
    if not isinstance(raw, list):
        raise ForgeError("forge sent statuses that are not a list")
    ordered = sorted(
        (item for item in raw if isinstance(item, Mapping)),
        key=lambda item: int(item.get("id") or 0),  # oldest first, whatever the server sent
    )
    return combine(str(body.get("sha") or sha), [commit_status(item) for item in ordered])


def statuses_list(data: Any, sha: str) -> CombinedStatus:
    """`/commits/{sha}/statuses` (every status ever posted, oldest first) combined."""
    if not isinstance(data, list):
        raise ForgeError("forge sent statuses that are not a list")
    ordered = sorted(data, key=lambda item: int(_mapping(item, "status").get("id") or 0))
    return combine(sha, [commit_status(item) for item in ordered])


def version(data: Any) -> str:
    return str(_mapping(data, "version").get("version") or "")


def login(data: Any) -> str:
    body = _mapping(data, "user")
    return str(body.get("login") or body.get("username") or "")


def repo_access(data: Any) -> RepoAccess:
    body = _mapping(data, "repository")
    perms = body.get("permissions") or {}
    perms = perms if isinstance(perms, Mapping) else {}
    return RepoAccess(
        full_name=str(body.get("full_name") or ""),
        default_branch=str(body.get("default_branch") or "main"),
        can_push=bool(perms.get("push")),
        is_admin=bool(perms.get("admin")),
        allows_merge_commits=bool(body.get("allow_merge_commits", True)),
    )


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ForgeError(f"forge sent a {what} that is not an object")
    return data
