"""The Forge port on Gitea/Forgejo's REST API (v1), for the 1.16 line and newer.

What the server does that this driver minds (see the recorded fixtures):
- a merge body is read in CamelCase by 1.16 (`Do`, `MergeTitleField`, …) and in
  snake_case by newer servers: both spellings are sent, the title always explicit
  (a rebase-merge without one fails with a 500);
- 405 means several things (still checking, required statuses not green, not allowed,
  already merged), 404 answers a merge of a closed or already merged PR, 409 a stale
  `head_commit_id` or a conflict: all three surface as distinct ForgeErrors and the
  caller re-fetches the PR before deciding anything;
- lists are paginated (`page`, `limit`, a `Link` header naming the next page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from core.errors import ForgeError, ForgeNotFound, ForgeRejected
from core.integrations.forge import parse
from core.integrations.forge.http import GiteaHttp
from core.ports import CombinedStatus, CommitStatus, PullRequest

PAGE_LIMIT = 50  # Gitea's usual max_response_items
MAX_PAGES = 40
MERGE_STYLES = frozenset({"merge", "rebase", "rebase-merge", "squash", "fast-forward-only"})


class GiteaForge:
    """Forge port over one Gitea/Forgejo server (see the module docstring)."""

    def __init__(self, http: GiteaHttp) -> None:
        self._http = http

    def __repr__(self) -> str:
        return f"GiteaForge({self._http!r})"

    @property
    def stats(self) -> Any:
        return self._http.stats

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the Forge port --------------------------------------------------------------

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str = ""
    ) -> PullRequest:
        found = await self._find_open(repo, head, base)
        if found is not None:
            return found
        payload = {"head": head, "base": base, "title": title, "body": body}
        try:
            answer = await self._http.send("POST", f"{_repo(repo)}/pulls", json_body=payload)
        except ForgeRejected as exc:
            if exc.status != 409:  # 409: opened meanwhile by someone else; find it
                raise
            found = await self._find_open(repo, head, base)
            if found is None:
                raise
            return found
        return parse.pull_request(answer.body)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        answer = await self._http.send("GET", f"{_repo(repo)}/pulls/{int(number)}")
        return parse.pull_request(answer.body)

    async def list_pull_requests(self, repo: str, state: str = "open") -> list[PullRequest]:
        """Every PR in `state` (open, closed, all), page after page."""
        found: list[PullRequest] = []
        for page in range(1, MAX_PAGES + 1):
            params = {"state": state, "page": page, "limit": PAGE_LIMIT}
            answer = await self._http.send("GET", f"{_repo(repo)}/pulls", params=params)
            batch = parse.pull_requests(answer.body)
            found.extend(batch)
            if not batch or not (answer.next_page() or len(batch) >= PAGE_LIMIT):
                break
        return found

    async def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        payload = {
            "state": status.state.value,
            "context": status.context,
            "description": status.description[:140],
            "target_url": status.target_url,
        }
        await self._http.send("POST", f"{_repo(repo)}/statuses/{_sha(sha)}", json_body=payload)

    async def combined_status(self, repo: str, sha: str) -> CombinedStatus:
        answer = await self._http.send("GET", f"{_repo(repo)}/commits/{_sha(sha)}/status")
        return parse.combined_status(answer.body, sha)

    async def merge(
        self, repo: str, number: int, *, head_sha: str, title: str, message: str = "",
        style: str = "merge",
    ) -> None:
        if style not in MERGE_STYLES:
            raise ForgeError(f"unknown merge style {style!r}")
        if not title.strip():
            raise ForgeError("a merge needs an explicit title")
        payload = {
            "Do": style, "do": style,
            "MergeTitleField": title, "merge_title_field": title,
            "MergeMessageField": message, "merge_message_field": message,
            "head_commit_id": head_sha,
            "delete_branch_after_merge": False,
        }
        await self._http.send("POST", f"{_repo(repo)}/pulls/{int(number)}/merge",
                              json_body=payload)

    async def is_merged(self, repo: str, number: int) -> bool:
        try:
            answer = await self._http.send("GET", f"{_repo(repo)}/pulls/{int(number)}/merge")
        except ForgeNotFound:
            return False
        return answer.status == 204

    # --- what `orch doctor` asks -----------------------------------------------------

    async def version(self) -> str:
        return parse.version((await self._http.send("GET", "version")).body)

    async def whoami(self) -> str:
        return parse.login((await self._http.send("GET", "user")).body)

    async def repository(self, repo: str) -> parse.RepoAccess:
        return parse.repo_access((await self._http.send("GET", _repo(repo))).body)

    async def _find_open(self, repo: str, head: str, base: str) -> PullRequest | None:
        for pr in await self.list_pull_requests(repo, "open"):
            if pr.head_ref == head and pr.base_ref == base:
                return pr
        return None


def _repo(repo: str) -> str:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise ForgeError(f"a forge repository is owner/name, not {repo!r}")
    return f"repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def _sha(ref: str) -> str:
    return quote(ref, safe="")
