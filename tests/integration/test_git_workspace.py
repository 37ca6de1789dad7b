"""GitWorkspace against real repositories: a bare "origin" in tmp_path and its clone."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.errors import OrchError
from core.integrations.git import workspace as workspace_module
from core.integrations.git.workspace import GitError, GitWorkspace, init_local_repo, redact, run_git

REPO = "demo"


async def _commit(path: Path, name: str, text: str, message: str) -> str:
    (path / name).write_text(text, encoding="utf-8")
    await run_git(["add", name], cwd=path)
    await run_git(
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", message], cwd=path
    )
    return await run_git(["rev-parse", "HEAD"], cwd=path)


@pytest.fixture
async def origin(tmp_path: Path) -> Path:
    seed = await init_local_repo(tmp_path / "seed", {"README.md": "base\n"})
    bare = tmp_path / "origin.git"
    await run_git(["clone", "--quiet", "--bare", str(seed), str(bare)])
    return bare


@pytest.fixture
def workspace(tmp_path: Path) -> GitWorkspace:
    return GitWorkspace(tmp_path / "repos", timeout_s=30)


@pytest.fixture
async def clone(workspace: GitWorkspace, origin: Path) -> Path:
    return await workspace.ensure_clone(REPO, str(origin))


async def test_init_local_repo_has_one_commit_on_main(tmp_path: Path) -> None:
    repo = await init_local_repo(tmp_path / "fresh")

    assert await run_git(["branch", "--show-current"], cwd=repo) == "main"
    assert await run_git(["rev-list", "--count", "HEAD"], cwd=repo) == "1"
    assert (repo / "README.md").exists()


async def test_clone_lands_under_repos_dir(tmp_path: Path, clone: Path, origin: Path) -> None:
    assert clone == tmp_path / "repos" / REPO
    assert await run_git(["rev-parse", "origin/main"], cwd=clone) == await run_git(
        ["rev-parse", "main"], cwd=origin
    )


async def test_worktree_starts_a_new_branch_from_main(
    tmp_path: Path, workspace: GitWorkspace, clone: Path, origin: Path
) -> None:
    worktree = await workspace.worktree_for(REPO, "orch/ORCH-1")

    assert worktree == tmp_path / "repos" / "_wt" / REPO / "orch-ORCH-1"
    assert await run_git(["branch", "--show-current"], cwd=worktree) == "orch/ORCH-1"
    assert await workspace.head_sha(worktree) == await run_git(["rev-parse", "main"], cwd=origin)
    assert (worktree / "README.md").read_text() == "base\n"


async def test_worktree_is_reused_with_its_changes(workspace: GitWorkspace, clone: Path) -> None:
    first = await workspace.worktree_for(REPO, "orch/ORCH-1")
    (first / "scratch.txt").write_text("work in progress")

    again = await workspace.worktree_for(REPO, "orch/ORCH-1")

    assert again == first
    assert (again / "scratch.txt").read_text() == "work in progress"


async def test_commit_in_the_worktree_is_on_the_branch(
    workspace: GitWorkspace, clone: Path
) -> None:
    worktree = await workspace.worktree_for(REPO, "orch/ORCH-2")

    sha = await _commit(worktree, "feature.txt", "new\n", "ORCH-2: feature")

    assert await run_git(["rev-parse", "orch/ORCH-2"], cwd=clone) == sha
    assert await run_git(["rev-parse", "main"], cwd=clone) != sha


async def test_new_branch_starts_from_the_fetched_origin_main(
    tmp_path: Path, workspace: GitWorkspace, clone: Path, origin: Path
) -> None:
    pusher = tmp_path / "pusher"
    await run_git(["clone", "--quiet", str(origin), str(pusher)])
    moved = await _commit(pusher, "later.txt", "later\n", "main moves on")
    await run_git(["push", "--quiet", "origin", "main"], cwd=pusher)

    await workspace.ensure_clone(REPO, str(origin))
    worktree = await workspace.worktree_for(REPO, "orch/ORCH-3")

    assert await workspace.head_sha(worktree) == moved


async def test_removed_worktree_is_gone_and_pruned_but_the_branch_stays(
    workspace: GitWorkspace, clone: Path
) -> None:
    worktree = await workspace.worktree_for(REPO, "orch/ORCH-4")
    sha = await _commit(worktree, "kept.txt", "kept\n", "ORCH-4: keep me")

    await workspace.remove_worktree(REPO, "orch/ORCH-4")

    assert not worktree.exists()
    assert str(worktree) not in await run_git(["worktree", "list", "--porcelain"], cwd=clone)
    assert await run_git(["rev-parse", "orch/ORCH-4"], cwd=clone) == sha
    assert await workspace.worktree_for(REPO, "orch/ORCH-4") == worktree  # back on demand
    assert await workspace.head_sha(worktree) == sha


async def test_removing_an_absent_worktree_is_a_no_op(workspace: GitWorkspace, clone: Path) -> None:
    other = await workspace.worktree_for(REPO, "orch/ORCH-5")
    (other / "work.txt").write_text("in progress\n", encoding="utf-8")
    listed = await run_git(["worktree", "list", "--porcelain"], cwd=clone)
    branches = await run_git(["branch", "--list"], cwd=clone)

    await workspace.remove_worktree(REPO, "orch/never-made")

    assert await run_git(["worktree", "list", "--porcelain"], cwd=clone) == listed
    assert await run_git(["branch", "--list"], cwd=clone) == branches
    assert (other / "work.txt").read_text(encoding="utf-8") == "in progress\n"
    assert not workspace.worktree_path(REPO, "orch/never-made").exists()


async def test_two_branches_sanitised_alike_never_share_a_worktree(
    workspace: GitWorkspace, clone: Path
) -> None:
    await workspace.worktree_for(REPO, "orch/ORCH-5")

    with pytest.raises(GitError, match="holds branch 'orch/ORCH-5'"):
        await workspace.worktree_for(REPO, "orch-ORCH-5")


async def test_invalid_branch_and_repo_names_are_refused(
    workspace: GitWorkspace, clone: Path
) -> None:
    with pytest.raises(GitError, match="not a valid branch name"):
        await workspace.worktree_for(REPO, "bad..name")
    for name in ("../escape", "_wt", "/abs", "a/b/c", ".hidden"):
        with pytest.raises(GitError, match="invalid repository name"):
            workspace.clone_path(name)


async def test_worktree_without_a_clone_says_what_to_do(workspace: GitWorkspace) -> None:
    with pytest.raises(GitError, match="call ensure_clone first"):
        await workspace.worktree_for("other", "orch/ORCH-1")


async def test_failed_clone_is_an_orch_error_without_the_token(
    tmp_path: Path, workspace: GitWorkspace
) -> None:
    url = f"file://user:s3cret-token@localhost{tmp_path}/missing.git"

    with pytest.raises(OrchError) as caught:
        await workspace.ensure_clone("other", url)

    assert isinstance(caught.value, GitError)
    assert "s3cret-token" not in str(caught.value)
    assert "file://***@localhost" in str(caught.value)


async def test_a_git_command_past_its_timeout_is_killed(tmp_path: Path) -> None:
    started = time.monotonic()

    with pytest.raises(GitError, match=r"timed out after 0\.3 s"):
        await run_git(["-c", "alias.stall=!sleep 30", "stall"], cwd=tmp_path, timeout_s=0.3)

    assert time.monotonic() - started < 10


def test_redact_masks_userinfo_in_every_url() -> None:
    text = "fatal: https://oauth2:abc@git.example/x.git and ssh://me:pw@h/y, git@h:z.git"

    assert redact(text) == ("fatal: https://***@git.example/x.git and ssh://***@h/y, git@h:z.git")


class _Killed(Exception):
    """Stands for the process dying right after one git command."""


def _dies_after(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    real = workspace_module.run_git

    async def dying(args: Sequence[str], **kwargs: Any) -> str:
        out = await real(args, **kwargs)
        if command in args:
            raise _Killed(command)
        return out

    monkeypatch.setattr(workspace_module, "run_git", dying)


async def test_a_local_repo_killed_halfway_is_made_whole_on_the_next_try(
    workspace: GitWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen in the crash test: killed between `git init` and the first commit, the repo
    # was left with no main branch and every later job failed "no branch 'main'".
    _dies_after(monkeypatch, "init")
    with pytest.raises(_Killed):
        await workspace.ensure_local("web")
    assert not (tmp_path / "repos" / "web").exists()
    assert (tmp_path / "repos" / ".web.partial" / ".git").exists()  # what a kill leaves
    monkeypatch.undo()

    repo = await workspace.ensure_local("web")

    assert await run_git(["rev-list", "--count", "main"], cwd=repo) == "1"
    assert not (tmp_path / "repos" / ".web.partial").exists()
    assert await workspace.worktree_for("web", "orch/web-1") == workspace.worktree_path(
        "web", "orch/web-1")


async def test_a_clone_killed_halfway_is_cloned_again(
    workspace: GitWorkspace, origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _dies_after(monkeypatch, "clone")
    with pytest.raises(_Killed):
        await workspace.ensure_clone(REPO, str(origin))
    assert not (tmp_path / "repos" / REPO).exists()
    monkeypatch.undo()

    clone = await workspace.ensure_clone(REPO, str(origin))

    assert await run_git(["rev-parse", "origin/main"], cwd=clone) == await run_git(
        ["rev-parse", "main"], cwd=origin)


async def test_a_folder_with_other_content_is_never_replaced(
    workspace: GitWorkspace, tmp_path: Path
) -> None:
    squatter = tmp_path / "repos" / "web"
    squatter.mkdir(parents=True)
    (squatter / "notes.txt").write_text("mine\n", encoding="utf-8")

    with pytest.raises(GitError, match="exists and is not a repository"):
        await workspace.ensure_local("web")

    assert (squatter / "notes.txt").read_text(encoding="utf-8") == "mine\n"


async def _add_killed_in_its_checkout(workspace: GitWorkspace, branch: str) -> Path:
    """A real `git worktree add` SIGKILLed halfway through its checkout (a timeout, a stop,
    a crashed container): a smudge filter kills the process group of the git running it."""
    repo = await workspace.ensure_local("web")
    await _commit(repo, ".gitattributes", "*.txt filter=dies\n", "attributes")
    await _commit(repo, "code.txt", "keep me\n", "code")
    await run_git(["config", "filter.dies.smudge", "kill -9 0"], cwd=repo)
    with pytest.raises(GitError):
        await workspace.worktree_for("web", branch)
    await run_git(["config", "--unset", "filter.dies.smudge"], cwd=repo)
    listing = await run_git(["worktree", "list", "--porcelain"], cwd=repo)
    assert "locked initializing" in listing  # what the kill left: registered, half made
    return repo


async def test_a_worktree_killed_during_its_checkout_is_made_again(
    workspace: GitWorkspace,
) -> None:
    # Reused as it was, the worktree had its branch checked out but no code.txt and no
    # index: an agent's `git add --all` would have committed every missing file deleted.
    await _add_killed_in_its_checkout(workspace, "orch/web-7")

    worktree = await workspace.worktree_for("web", "orch/web-7")

    assert (worktree / "code.txt").read_text(encoding="utf-8") == "keep me\n"
    assert await run_git(["status", "--porcelain"], cwd=worktree) == ""
    assert await run_git(["branch", "--show-current"], cwd=worktree) == "orch/web-7"


async def test_a_worktree_killed_during_its_checkout_can_be_removed(
    workspace: GitWorkspace,
) -> None:
    repo = await _add_killed_in_its_checkout(workspace, "orch/web-8")

    await workspace.remove_worktree("web", "orch/web-8")  # a locked worktree refuses `remove`

    assert not workspace.worktree_path("web", "orch/web-8").exists()
    assert "web-8" not in await run_git(["worktree", "list", "--porcelain"], cwd=repo)
    assert await run_git(["branch", "--list", "orch/web-8"], cwd=repo) != ""


def test_git_speaks_english_whatever_the_hosts_locale() -> None:
    # orch reads git's 'initializing' lock reason, which git translates
    env = workspace_module._git_env({"LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8",
                                     "LANGUAGE": "de", "PATH": "/usr/bin"})

    assert "LC_ALL" not in env  # it would override LC_MESSAGES
    assert (env["LC_MESSAGES"], env["LANGUAGE"]) == ("C", "C")
    assert (env["LC_CTYPE"], env["LANG"], env["PATH"]) == ("de_DE.UTF-8", "de_DE.UTF-8",
                                                           "/usr/bin")
    assert env["GIT_TERMINAL_PROMPT"] == "0"

