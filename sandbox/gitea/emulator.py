"""GiteaEmulator: a Gitea server's pull requests, statuses, merges and webhooks, backed by
real bare repositories, driven from Python and served over HTTP by `app.build_app`.

It reproduces what orch must survive (see tests/fixtures/gitea): 405 for a PR still
being checked, for required statuses that are not green and for a user who may not
merge; 409 for a stale `head_commit_id` and for conflicts; 404 for merging a closed or
already merged PR; `head.sha` that follows the branch after a merge; `mergeable` false
for a moment after every push; a rebase-merge without a title failing with a 500.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.clock import Clock
from sandbox.gitea.bare import BareRepo
from sandbox.gitea.records import (
    CHECKS_RED,
    MERGE_STYLES,
    NOT_FOUND,
    TRY_LATER,
    Pull,
    Refusal,
    Repo,
    Status,
    User,
)
from sandbox.gitea.webhooks import Delivery, Hooks

VERSION = "1.16.0+dev-2b16ca7c"
ZERO = "0" * 40


class GiteaEmulator:
    """Repositories under `root`, users by token, one webhook target for every repo."""

    def __init__(self, root: Path, clock: Clock, *, base_url: str = "http://gitea.invalid",
                 checking_reads: int = 1) -> None:
        self.root = root
        self.clock = clock
        self.base_url = base_url
        self.checking_reads = checking_reads
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, User] = {}
        self.hooks = Hooks()
        self.merges = 0  # merges performed: a test's "no second merge" counts these
        self.merge_requests = 0  # merge calls received, refused ones included
        self.on_merged: Callable[[Pull], None] | None = None  # a test's hook (e.g. a crash)
        self._ids = itertools.count(1)

    # --- the Python API: setting the scene ---------------------------------------------

    def add_token(self, token: str, login: str, *, admin: bool = False,
                  can_merge: bool = True) -> User:
        user = User(login, admin, can_merge)
        self.tokens[token] = user
        return user

    async def create_repo(self, full_name: str, files: dict[str, str] | None = None) -> Repo:
        owner, name = full_name.split("/")
        path = self.root / owner / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        bare = await BareRepo.create(path, files or {"README.md": f"# {name}\n"})
        repo = Repo(next(self._ids), owner, name, bare)
        repo.known_refs = await bare.branches()
        self.repos[full_name] = repo
        return repo

    def clone_url(self, full_name: str) -> str:
        return str(self.repos[full_name].bare.path)

    def protect(self, full_name: str, branch: str = "main",
                contexts: tuple[str, ...] = ()) -> None:
        """Branch protection: no pushes to `branch`, merges need `contexts` green."""
        repo = self.repos[full_name]
        repo.protected[branch] = contexts
        repo.bare.protect(sorted(repo.protected))

    # --- what a request sees first -----------------------------------------------------

    def user(self, authorization: str) -> User:
        scheme, _, token = authorization.partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() in ("token", "bearer") else None
        if user is None:
            raise Refusal(401, "token is required")
        return user

    def repo(self, full_name: str) -> Repo:
        repo = self.repos.get(full_name)
        if repo is None:
            raise Refusal(404, NOT_FOUND)
        return repo

    async def sync(self, repo: Repo) -> None:
        """Notice pushes made straight into the bare repository since the last look."""
        now = await repo.bare.branches()
        for branch in sorted(set(now) | set(repo.known_refs)):
            before, after = repo.known_refs.get(branch, ZERO), now.get(branch, ZERO)
            if before != after:
                await self._moved(repo, branch, before, after)
        repo.known_refs = now

    async def _moved(self, repo: Repo, branch: str, before: str, after: str) -> None:
        self.hooks.queue(Delivery("push", "push", self._push_payload(repo, branch, before,
                                                                      after)))
        for pull in repo.pulls.values():
            if pull.head == branch and after != ZERO and not pull.branch_deleted:
                pull.head_sha = after  # even after the merge: head.sha follows the branch
            if pull.state != "open":
                continue
            if pull.head == branch and after != ZERO:
                pull.checking = self.checking_reads
                self.hooks.queue(Delivery("pull_request", "pull_request_sync",
                                          self._pr_payload(repo, pull, "synchronized")))
            if pull.base == branch and after != ZERO:
                pull.base_sha = after
                pull.checking = self.checking_reads
            if branch in (pull.head, pull.base):
                await self._recheck(repo, pull)

    async def _recheck(self, repo: Repo, pull: Pull) -> None:
        result = await repo.bare.merge_trees(pull.base_sha, pull.head_sha)
        pull.conflicted = result.tree is None
        pull.merge_base = await repo.bare.merge_base(pull.base_sha, pull.head_sha)

    # --- pull requests -----------------------------------------------------------------

    async def create_pull(self, repo: Repo, user: User, body: dict[str, Any]) -> Pull:
        head, base = str(body.get("head") or ""), str(body.get("base") or "")
        head_sha, base_sha = await repo.bare.rev(head), await repo.bare.rev(base)
        if head_sha is None or base_sha is None:
            raise Refusal(404, NOT_FOUND)
        if head == base or await repo.bare.is_ancestor(head_sha, base_sha):
            raise Refusal(422, "Invalid PullRequest: There are no changes between the head "
                               "and the base")
        for pull in repo.pulls.values():
            if pull.state == "open" and (pull.head, pull.base) == (head, base):
                raise Refusal(409, "pull request already exists for these targets [id: "
                                   f"{pull.number}, head_branch: {head}, base_branch: {base}]")
        number = max(repo.pulls, default=0) + 1
        pull = Pull(number, str(body.get("title") or head), str(body.get("body") or ""), head,
                    base, head_sha, base_sha, await repo.bare.merge_base(base_sha, head_sha),
                    self.clock.now(), user)
        await self._recheck(repo, pull)
        repo.pulls[number] = pull
        self.hooks.queue(Delivery("pull_request", "pull_request",
                                  self._pr_payload(repo, pull, "opened")))
        return pull

    def pull(self, repo: Repo, number: int) -> Pull:
        pull = repo.pulls.get(number)
        if pull is None:
            raise Refusal(404, NOT_FOUND)
        return pull

    def read(self, pull: Pull) -> Pull:
        """A read of the PR: the forge's background check moves on by one step."""
        if pull.checking and pull.state == "open":
            pull.checking -= 1
            return _still_checking(pull)
        return pull

    def listing(self, repo: Repo, state: str) -> list[Pull]:
        pulls = sorted(repo.pulls.values(), key=lambda p: -p.number)  # newest first
        return [p for p in pulls if state == "all" or p.state == state]

    # --- statuses ----------------------------------------------------------------------

    def add_status(self, repo: Repo, sha: str, body: dict[str, Any]) -> Status:
        status = Status(next(self._ids), sha, str(body.get("state") or ""),
                        str(body.get("context") or "default"),
                        str(body.get("description") or ""), str(body.get("target_url") or ""),
                        self.clock.now())
        repo.statuses.append(status)
        return status

    async def resolve(self, repo: Repo, ref: str) -> str:
        return await repo.bare.rev(ref) or ref

    # --- the merge ---------------------------------------------------------------------

    async def merge(self, repo: Repo, user: User, number: int, body: dict[str, Any]) -> None:
        pull = self.pull(repo, number)
        if pull.state != "open":
            raise Refusal(404, NOT_FOUND)
        if not user.can_merge:
            raise Refusal(405, "User not allowed to merge PR")
        style = str(body.get("Do") or body.get("do") or "merge")
        if style not in MERGE_STYLES:
            raise Refusal(422, "[Do]: In")
        if pull.checking:
            pull.checking -= 1
            raise Refusal(405, TRY_LATER)
        wanted = body.get("head_commit_id")
        if wanted and wanted != pull.head_sha:
            raise Refusal(409, "head out of date")
        forced = bool(body.get("force_merge")) and user.is_admin
        if not forced and not self._required_green(repo, pull):
            raise Refusal(405, CHECKS_RED)
        title = str(body.get("MergeTitleField") or body.get("merge_title_field") or "")
        message = str(body.get("MergeMessageField") or body.get("merge_message_field") or "")
        new_base = await self._combine(repo, pull, style, title, message)
        await repo.bare.move(pull.base, new_base, pull.base_sha)
        self.merges += 1
        if self.on_merged is not None:
            self.on_merged(pull)
        pull.state, pull.merged, pull.merged_at = "closed", True, self.clock.now()
        pull.merge_commit_sha, pull.checking = new_base, 0
        self.hooks.queue(Delivery("pull_request", "pull_request",
                                  self._pr_payload(repo, pull, "closed")))
        if body.get("delete_branch_after_merge"):
            await repo.bare.delete(pull.head)
            pull.branch_deleted = True
        await self.sync(repo)

    def _required_green(self, repo: Repo, pull: Pull) -> bool:
        contexts = repo.protected.get(pull.base, ())
        latest = {s.context: s.state for s in repo.latest_statuses(pull.head_sha)}
        return all(latest.get(context) == "success" for context in contexts)

    async def _combine(self, repo: Repo, pull: Pull, style: str, title: str,
                       message: str) -> str:
        bare, base, head = repo.bare, pull.base_sha, pull.head_sha
        merged = await bare.merge_trees(base, head)
        if merged.tree is None:
            raise Refusal(409, "Merge Conflict Error", _conflict_body(style, merged.conflicts))
        default = f"Merge pull request '{pull.title}' (#{pull.number}) from {pull.head} " \
                  f"into {pull.base}"
        text = "\n\n".join(part for part in (title or default, message) if part)
        if style == "merge":
            return await bare.commit(merged.tree, [base, head], text)
        if style == "squash":
            return await bare.commit(merged.tree, [base], title or pull.title)
        if style == "rebase-merge" and not title:
            raise Refusal(500, "git commit [merge]: exit status 1\n\nAborting commit due to "
                               "empty commit message.\n")
        replayed = await self._replay(bare, base, head)
        if style == "rebase":
            return replayed
        return await bare.commit(merged.tree, [base, replayed], text)

    async def _replay(self, bare: BareRepo, onto: str, head: str) -> str:
        current = onto
        fork = await bare.merge_base(onto, head)
        for sha, message in await bare.commits_between(fork, head):
            picked = await bare.merge_trees(current, sha, base=f"{sha}^")
            if picked.tree is None:
                raise Refusal(409, "Merge Conflict Error", _conflict_body("rebase",
                                                                           picked.conflicts))
            current = await bare.commit(picked.tree, [current], message)
        return current

    # --- webhook payloads --------------------------------------------------------------

    def _push_payload(self, repo: Repo, branch: str, before: str, after: str) -> dict[str, Any]:
        return {"ref": f"refs/heads/{branch}", "before": before, "after": after,
                "commits": [], "repository": repo.json(self.base_url)}

    def _pr_payload(self, repo: Repo, pull: Pull, action: str) -> dict[str, Any]:
        return {"action": action, "number": pull.number,
                "pull_request": pull.json(repo, self.base_url),
                "repository": repo.json(self.base_url)}


def _still_checking(pull: Pull) -> Pull:
    shown = Pull(**{**pull.__dict__})
    shown.checking = 1
    return shown


def _conflict_body(style: str, files: tuple[str, ...]) -> str:
    out = "".join(f"CONFLICT (content): Merge conflict in {name}\n" for name in files)
    first = json.dumps({"Style": style, "StdOut": out, "StdErr": "", "Err": {"Stderr": None}})
    second = json.dumps({"message": f"Merge Conflict Error: exit status 1: \n{out}",
                         "url": "/api/swagger"})
    return f"{first}\n{second}\n"
