"""One contract, two forges: the fake (tests/forge_fakes.py) and the Gitea adapter talking
HTTP to the emulator. Both sit on real bare repositories, so pushes and merges are git's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.clock import SystemClock
from core.errors import ForgeNotFound, ForgeRejected, MergeConflict, MergeRefused
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.http_retry import Backoff
from core.ports import CommitStatus, StatusState
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.gitea.server import serve_gitea
from tests.forge_fakes import BareRefs, FakeForge
from tests.git_rig import PersonClone, rev

REPO = "team/api"
CTX = "orch/merge"


@dataclass
class World:
    forge: Any
    bare: Path
    person: PersonClone
    protect: Any
    forbid_merging: Any


@pytest.fixture(params=["fake", "gitea"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    emu = GiteaEmulator(tmp_path / "forge", SystemClock(), checking_reads=0)
    await emu.create_repo(REPO, {"README.md": "# api\n", "app.py": "def f():\n    return 1\n"})
    bare = Path(emu.clone_url(REPO))
    person = await PersonClone.of(bare, tmp_path / "person")
    if request.param == "fake":
        fake = FakeForge(BareRefs(tmp_path / "forge"))

        def protect(contexts: tuple[str, ...]) -> None:
            fake.required[REPO] = contexts

        def forbid() -> FakeForge:
            fake.can_merge = False
            return fake

        yield World(fake, bare, person, protect, forbid)
        return
    emu.add_token("bot-token", "orch-bot")
    emu.add_token("reader-token", "reader", can_merge=False)
    async with serve_gitea(emu) as url:
        http = GiteaHttp(url, "bot-token", clock=SystemClock(), backoff=Backoff(base_delay_s=0))
        forge = GiteaForge(http)
        reader = GiteaForge(GiteaHttp(url, "reader-token", clock=SystemClock()))

        def protect_emulated(contexts: tuple[str, ...]) -> None:
            emu.protect(REPO, "main", contexts)

        def forbid_emulated() -> GiteaForge:
            return reader  # the same server, a token whose user may not merge

        w = World(forge, bare, person, protect_emulated, forbid_emulated)
        yield w
        await http.aclose()
        await reader._http.aclose()


async def test_a_pr_is_opened_once_and_found_after(world: World) -> None:
    sha = await world.person.commit_and_push("orch/a", {"a.txt": "a\n"})
    first = await world.forge.open_pull_request(REPO, "orch/a", "main", "A")
    again = await world.forge.open_pull_request(REPO, "orch/a", "main", "A again")
    assert first.number == again.number
    assert (first.head_ref, first.head_sha, first.base_ref) == ("orch/a", sha, "main")
    assert first.is_open and not first.merged
    assert not await world.forge.is_merged(REPO, first.number)


async def test_unknown_prs_and_empty_branches_are_refused(world: World) -> None:
    with pytest.raises(ForgeNotFound):
        await world.forge.get_pull_request(REPO, 99)
    with pytest.raises(ForgeRejected):
        await world.forge.open_pull_request(REPO, "main", "main", "nothing")


async def test_statuses_combine_latest_per_context_worst_first(world: World) -> None:
    sha = await world.person.commit_and_push("orch/s", {"s.txt": "s\n"})
    assert (await world.forge.combined_status(REPO, sha)).state is StatusState.PENDING
    await world.forge.set_status(REPO, sha, CommitStatus(CTX, StatusState.PENDING, "re-testing"))
    await world.forge.set_status(REPO, sha, CommitStatus("lint", StatusState.SUCCESS))
    assert (await world.forge.combined_status(REPO, sha)).state is StatusState.PENDING
    await world.forge.set_status(REPO, sha, CommitStatus(CTX, StatusState.SUCCESS, "green"))
    combined = await world.forge.combined_status(REPO, sha)
    assert combined.state is StatusState.SUCCESS and combined.of(CTX).description == "green"
    await world.forge.set_status(REPO, sha, CommitStatus("lint", StatusState.FAILURE))
    assert (await world.forge.combined_status(REPO, sha)).state is StatusState.FAILURE


async def test_a_merge_needs_the_required_status_and_the_current_head(world: World) -> None:
    world.protect((CTX,))
    old = await world.person.commit_and_push("orch/m", {"m.txt": "1\n"})
    pr = await world.forge.open_pull_request(REPO, "orch/m", "main", "M")
    new = await world.person.commit_and_push("orch/m", {"m.txt": "2\n"})
    assert (await world.forge.get_pull_request(REPO, pr.number)).head_sha == new
    with pytest.raises(MergeRefused):
        await world.forge.merge(REPO, pr.number, head_sha=new, title="M (#1)")
    await world.forge.set_status(REPO, new, CommitStatus(CTX, StatusState.SUCCESS))
    with pytest.raises(MergeConflict):
        await world.forge.merge(REPO, pr.number, head_sha=old, title="M (#1)")
    main_before = await rev(world.bare, "refs/heads/main")
    await world.forge.merge(REPO, pr.number, head_sha=new, title="ORCH-1: M (#1)")
    merged = await world.forge.get_pull_request(REPO, pr.number)
    main_after = await rev(world.bare, "refs/heads/main")
    assert merged.merged and not merged.is_open and merged.merge_commit_sha == main_after
    assert main_after != main_before and await world.forge.is_merged(REPO, pr.number)
    with pytest.raises(ForgeNotFound):  # merging again: 404, never a second merge
        await world.forge.merge(REPO, pr.number, head_sha=new, title="again")
    assert await rev(world.bare, "refs/heads/main") == main_after


async def test_after_a_merge_the_head_follows_the_branch(world: World) -> None:
    sha = await world.person.commit_and_push("orch/f", {"f.txt": "1\n"})
    pr = await world.forge.open_pull_request(REPO, "orch/f", "main", "F")
    await world.forge.merge(REPO, pr.number, head_sha=sha, title="F (#1)")
    later = await world.person.commit_and_push("orch/f", {"f.txt": "2\n"})
    seen = await world.forge.get_pull_request(REPO, pr.number)
    assert seen.merged and seen.head_sha == later and seen.merge_commit_sha != later


async def test_conflicting_trees_are_a_conflict(world: World) -> None:
    a = await world.person.commit_and_push("orch/x", {"app.py": "def f():\n    return 2\n"})
    b = await world.person.commit_and_push("orch/y", {"app.py": "def f():\n    return 3\n"})
    pr_x = await world.forge.open_pull_request(REPO, "orch/x", "main", "X")
    pr_y = await world.forge.open_pull_request(REPO, "orch/y", "main", "Y")
    await world.forge.merge(REPO, pr_x.number, head_sha=a, title="X")
    with pytest.raises(MergeConflict):
        await world.forge.merge(REPO, pr_y.number, head_sha=b, title="Y")


async def test_a_user_who_may_not_merge_is_refused(world: World) -> None:
    sha = await world.person.commit_and_push("orch/n", {"n.txt": "n\n"})
    pr = await world.forge.open_pull_request(REPO, "orch/n", "main", "N")
    refused = world.forbid_merging()
    with pytest.raises(MergeRefused, match="not allowed"):
        await refused.merge(REPO, pr.number, head_sha=sha, title="N")
    assert not await world.forge.is_merged(REPO, pr.number)
