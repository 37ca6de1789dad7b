"""The Gitea adapter against every recorded answer of a real 1.16 server, errors included."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clock import SystemClock
from core.errors import (
    ForgeError,
    ForgeNotFound,
    ForgeRejected,
    ForgeUnavailable,
    MergeConflict,
    MergeRefused,
)
from core.integrations.forge import parse
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.http_retry import Backoff
from core.ports import CommitStatus, StatusState

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitea"
METAS = sorted(FIXTURES.glob("*.meta.json"), key=lambda p: int(p.name.split("_")[0]))
REPO = re.compile(r"/api/v1/repos/(?P<repo>[^/]+/[^/?]+)(?P<rest>[^?]*)")
ERRORS: dict[int, type[ForgeError]] = {
    401: ForgeRejected, 404: ForgeNotFound, 405: MergeRefused, 409: MergeConflict,
    412: ForgeRejected, 422: ForgeRejected, 500: ForgeUnavailable,
}


def load(meta_path: Path) -> dict[str, Any]:
    return json.loads(meta_path.read_text(encoding="utf-8"))


def recorded(meta: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in meta["headers"].items() if k != "content-length"}
    if meta.get("body_text"):
        content = meta["body_text"].encode()
    elif meta.get("body_json") is not None:
        content = json.dumps(meta["body_json"]).encode()
    else:
        content = b""
    return httpx.Response(meta["status"], headers=headers, content=content)


def forge_replaying(meta: dict[str, Any], seen: list[httpx.Request]) -> GiteaForge:
    """A forge whose server answers the recorded request with the recorded response and
    an empty list to any other GET of the pull requests (the adapter looks first)."""
    want_method = meta["request"]["method"]
    want_path = httpx.URL(meta["request"]["url"]).path

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == want_method and request.url.path == want_path:
            return recorded(meta)
        if request.method == "GET" and request.url.path.endswith("/pulls"):
            return httpx.Response(200, json=[])
        raise AssertionError(f"unexpected {request.method} {request.url}")

    http = GiteaHttp("http://gitea.test", "s3cr3t-t0ken", clock=SystemClock(),
                     backoff=Backoff(max_attempts=2, base_delay_s=0.0),
                     transport=httpx.MockTransport(handler))
    return GiteaForge(http)


async def call(forge: GiteaForge, meta: dict[str, Any]) -> Any:
    """The adapter operation the recorded request belongs to."""
    method, url = meta["request"]["method"], httpx.URL(meta["request"]["url"])
    path = url.path
    match = REPO.match(path)
    if path.endswith("/version"):
        return await forge.version()
    if path.endswith("/api/v1/user"):
        return await forge.whoami()
    if match is None:
        return await forge._http.send(method, path.removeprefix("/api/v1/"))
    repo, rest = match["repo"], match["rest"]
    body = json.loads(meta["request"]["body"] or "null")
    if rest == "" and method == "GET":
        return await forge.repository(repo)
    if rest == "/pulls" and method == "POST":
        return await forge.open_pull_request(repo, body["head"], body["base"], body["title"])
    if rest == "/pulls" and method == "GET":
        answer = await forge._http.send("GET", path.removeprefix("/api/v1/"),
                                        params=dict(url.params))
        return parse.pull_requests(answer.body)
    if m := re.fullmatch(r"/pulls/(\d+)/merge", rest):
        if method == "GET":
            return await forge.is_merged(repo, int(m[1]))
        return await forge.merge(repo, int(m[1]), head_sha=body.get("head_commit_id", "x"),
                                 title="t", style=body.get("Do", "merge"))
    if (m := re.fullmatch(r"/pulls/(\d+)", rest)) and method == "GET":
        return await forge.get_pull_request(repo, int(m[1]))
    if m := re.fullmatch(r"/statuses/(\w+)", rest):
        known = {s.value for s in StatusState}
        state = StatusState(body["state"]) if body["state"] in known else StatusState.ERROR
        return await forge.set_status(repo, m[1], CommitStatus(body["context"], state))
    if m := re.fullmatch(r"/commits/([\w-]+)/status", rest):
        return await forge.combined_status(repo, m[1])
    if m := re.fullmatch(r"/commits/(\w+)/statuses", rest):
        answer = await forge._http.send("GET", path.removeprefix("/api/v1/"))
        return parse.statuses_list(answer.body, m[1])
    answer = await forge._http.send(method, path.removeprefix("/api/v1/"),
                                    params=dict(url.params), json_body=body)
    return answer.body


def test_every_fixture_is_covered() -> None:
    assert len(METAS) == 83
    assert {load(p)["status"] for p in METAS} >= {200, 201, 204, 401, 404, 405, 409, 422, 500}


@pytest.mark.parametrize("meta_path", METAS, ids=lambda p: p.name.split(".")[0])
async def test_the_adapter_reads_the_recorded_answer(meta_path: Path) -> None:
    meta = load(meta_path)
    seen: list[httpx.Request] = []
    forge = forge_replaying(meta, seen)
    status = meta["status"]
    if status == 404 and meta["request"]["url"].endswith("/merge") and meta["request"][
            "method"] == "GET":
        assert await call(forge, meta) is False  # "is merged?" — 404 means no
    elif status >= 300:
        with pytest.raises(ERRORS[status]) as caught:
            await call(forge, meta)
        assert caught.value.status == (None if status >= 500 else status)
        assert "s3cr3t" not in str(caught.value)
        message = (meta.get("body_json") or {}).get("message")
        if status < 500 and message:
            assert message.strip()[:40] in str(caught.value)
    else:
        result = await call(forge, meta)
        check_result(meta, result)
    await forge.aclose()
    assert all(r.headers["Authorization"] == "token s3cr3t-t0ken" for r in seen)


def check_result(meta: dict[str, Any], result: Any) -> None:
    body = meta.get("body_json")
    if isinstance(body, dict) and "head" in body and "number" in body:
        assert result.number == body["number"]
        assert result.head_sha == body["head"]["sha"]
        assert result.merged is body["merged"]
        assert result.mergeable is body["mergeable"]
    elif isinstance(body, dict) and "statuses" in body:
        assert result.state.value == body["state"]
        assert {s.context for s in result.statuses} == {s["context"] for s in body["statuses"]}
    elif meta["status"] == 204:
        assert result is True


async def test_a_merge_sends_both_spellings_and_an_explicit_title() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200)

    http = GiteaHttp("http://g", "t", clock=SystemClock(), transport=httpx.MockTransport(handler))
    await GiteaForge(http).merge("o/r", 3, head_sha="abc", title="ORCH-1: x (#3)", message="m")
    assert sent == [{
        "Do": "merge", "do": "merge", "MergeTitleField": "ORCH-1: x (#3)",
        "merge_title_field": "ORCH-1: x (#3)", "MergeMessageField": "m",
        "merge_message_field": "m", "head_commit_id": "abc", "delete_branch_after_merge": False,
    }]
    with pytest.raises(ForgeError, match="explicit title"):
        await GiteaForge(http).merge("o/r", 3, head_sha="abc", title=" ")


async def test_a_500_under_load_is_retried_then_answered() -> None:
    failed = recorded(load(FIXTURES / "123_pr_list_all.meta.json"))
    retry_body = (FIXTURES / "127_pr_list_all_retry.body.json").read_bytes()
    answers = [failed, httpx.Response(200, content=retry_body)]
    http = GiteaHttp("http://g", "t", clock=SystemClock(), backoff=Backoff(base_delay_s=0.0),
                     transport=httpx.MockTransport(lambda request: answers.pop(0)))
    found = await GiteaForge(http).list_pull_requests("forgeadmin/demo2", "all")
    assert [pr.number for pr in found] == [pr["number"] for pr in json.loads(retry_body)]
    assert http.stats.retries == 1


async def test_pages_are_followed_by_the_link_header() -> None:
    pages = {
        "1": load(FIXTURES / "20_pr_list_open_limit2_page1.meta.json"),
        "2": load(FIXTURES / "21_pr_list_open_limit2_page2.meta.json"),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        if page in pages:
            return recorded(pages[page])
        return httpx.Response(200, json=[pages["1"]["body_json"][0] | {"number": 1}])

    http = GiteaHttp("http://g", "t", clock=SystemClock(), transport=httpx.MockTransport(handler))
    found = await GiteaForge(http).list_pull_requests("forgeadmin/demo")
    assert [pr.number for pr in found] == [5, 4, 3, 2, 1]


async def test_a_duplicate_pr_is_found_instead_of_failing() -> None:
    existing = load(FIXTURES / "10_pr_create_a.meta.json")["body_json"]
    duplicate = load(FIXTURES / "15_pr_create_duplicate_409.meta.json")
    lists = [[], [existing]]  # not there when first looked for, opened meanwhile

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return recorded(duplicate)
        return httpx.Response(200, json=lists.pop(0))

    http = GiteaHttp("http://g", "t", clock=SystemClock(), transport=httpx.MockTransport(handler))
    pr = await GiteaForge(http).open_pull_request("forgeadmin/demo", "feat-a", "main", "dup")
    assert pr.number == 1 and pr.head_ref == "feat-a"


def test_a_merged_pr_whose_branch_was_deleted_keeps_its_branch_name() -> None:
    pr = parse.pull_request(load(FIXTURES / "108_pr_a_merged_get.meta.json")["body_json"])
    assert pr.head_ref == "feat-a" and pr.merged and pr.merge_commit_sha
    assert not pr.is_open


def test_statuses_listed_oldest_first_keep_the_latest_per_context() -> None:
    listed = load(FIXTURES / "30_status_list.meta.json")["body_json"]
    combined = parse.statuses_list(list(reversed(listed)), "2ca4aad")
    assert combined.state is StatusState.SUCCESS
    assert combined.of("ci/merge-bot").state is StatusState.SUCCESS  # id 3 beat id 1
