"""Local git for the pipeline: one clone per repository, one worktree per task branch.

Layout under `repos_dir`:

    <repo>/                  a plain clone of the remote, fetched before work starts
    _wt/<repo>/<branch>/     one worktree per task branch ('/' in a branch name becomes '-')

Every git call is an asyncio subprocess with a timeout, in its own process group so a
stuck credential helper or ssh goes down with it, and never prompts for a password.
Failures raise GitError with git's stderr; user:password@ in URLs is masked everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import OrchError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
WORKTREES_DIR = "_wt"
_REAP_WAIT_S = 5.0
_MAX_DETAIL_CHARS = 2000
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_ADDING = "initializing"  # the lock reason of a worktree git is still adding


class GitError(OrchError):
    """A git command failed or timed out; the message names it and carries its stderr."""

    def __init__(self, git_args: Sequence[str], detail: str) -> None:
        self.command = redact("git " + " ".join(git_args))
        self.detail = redact(detail.strip())[-_MAX_DETAIL_CHARS:]
        super().__init__(f"{self.command}: {self.detail}")


def redact(text: str) -> str:
    """The text with credentials in URLs (`https://user:token@host`) masked."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


@dataclass(frozen=True, slots=True)
class _Output:
    code: int
    stdout: str
    stderr: str


async def run_git(
    args: Sequence[str], *, cwd: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> str:
    """Run `git <args>` and return its stdout (stripped); GitError unless it exits 0."""
    output = await _run(args, cwd=cwd, timeout_s=timeout_s)
    if output.code != 0:
        raise GitError(args, output.stderr or f"exit code {output.code}")
    return output.stdout


async def try_git(
    args: Sequence[str], *, cwd: Path | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[int, str, str]:
    """Run `git <args>`; (exit code, stdout, stderr) whatever the code (a timeout raises)."""
    output = await _run(args, cwd=cwd, timeout_s=timeout_s)
    return output.code, output.stdout, output.stderr


async def _run(args: Sequence[str], *, cwd: Path | None, timeout_s: float) -> _Output:
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=_git_env(os.environ),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise GitError(args, f"cannot run git: {exc.strerror or exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError as exc:
        await _kill(proc)
        raise GitError(args, f"timed out after {timeout_s:g} s") from exc
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    return _Output(
        proc.returncode or 0,
        out.decode(errors="replace").strip(),
        err.decode(errors="replace").strip(),
    )


def _git_env(base: Mapping[str, str]) -> dict[str, str]:
    """git's environment. A prompt for credentials would hang until the timeout: fail at
    once instead. git's messages in English whatever the host's locale: orch reads some
    of them (a worktree locked 'initializing' is one whose add was cut short), and LC_ALL
    would override LC_MESSAGES, so it becomes the LC_CTYPE it stood for."""
    env = {k: v for k, v in base.items() if k != "LC_ALL"}
    if base.get("LC_ALL"):
        env["LC_CTYPE"] = base["LC_ALL"]
    return {**env, "LC_MESSAGES": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never"}


async def _kill(proc: asyncio.subprocess.Process) -> None:
    # SIGKILL is immediate, so the wait below only tidies up; a second cancel may skip it.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        await asyncio.wait_for(proc.wait(), _REAP_WAIT_S)
    except TimeoutError:
        pass


class GitWorkspace:
    """The clones and per-branch worktrees under one directory.

    Calls for the same repository are serialised (git's own locks would otherwise make
    concurrent worktree changes fail); different repositories proceed in parallel.
    """

    def __init__(self, repos_dir: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._root = repos_dir
        self._timeout = timeout_s
        self._locks: dict[str, asyncio.Lock] = {}

    def clone_path(self, repo_name: str) -> Path:
        return self._root / _checked_repo_name(repo_name)

    def worktree_path(self, repo_name: str, branch: str) -> Path:
        return self._root / WORKTREES_DIR / _checked_repo_name(repo_name) / sanitise(branch)

    async def ensure_clone(self, repo_name: str, remote_url: str) -> Path:
        """The repository's clone, made if missing and fetched from `remote_url` if not."""
        path = self.clone_path(repo_name)
        async with self._lock(repo_name):
            if (path / ".git").exists():
                # Set every time: a rotated token in the URL takes effect at once.
                await self._git(["remote", "set-url", "origin", remote_url], path)
                await self._git(["fetch", "--prune", "origin"], path)
            else:
                await _made_whole(path, lambda staging: self._git(
                    ["clone", "--", remote_url, str(staging)], None))
        return path

    async def ensure_local(self, repo_name: str) -> Path:
        """The repository of a repo without a remote: made once, with one commit on main."""
        path = self.clone_path(repo_name)
        async with self._lock(repo_name):
            if not (path / ".git").exists():
                await _made_whole(path, init_local_repo)
        return path

    async def worktree_for(self, repo_name: str, branch: str, base: str = "main") -> Path:
        """The worktree of `branch`, reused if present, else added.

        A new branch starts from origin/<base> (or local <base> when the clone has no
        remote copy of it); a branch that exists locally or on origin is checked out.
        """
        clone = self._existing_clone(repo_name)
        await self._git(["check-ref-format", "--branch", branch], clone)
        path = self.worktree_path(repo_name, branch)
        async with self._lock(repo_name):
            await self._git(["worktree", "prune"], clone)
            listing = await self._git(["worktree", "list", "--porcelain"], clone)
            registered = parse_worktree_list(listing)
            if path.resolve() in unfinished_worktrees(listing):
                await self._forget_unfinished(clone, path)
            elif path.resolve() in registered:
                return self._reused(path, registered[path.resolve()], branch)
            path.parent.mkdir(parents=True, exist_ok=True)
            await self._git(
                ["worktree", "add", *await self._add_args(clone, path, branch, base)], clone
            )
        return path

    async def remove_worktree(self, repo_name: str, branch: str) -> None:
        """Remove the branch's worktree (changes in it are discarded; the branch stays)."""
        clone = self._existing_clone(repo_name)
        path = self.worktree_path(repo_name, branch)
        async with self._lock(repo_name):
            listing = await self._git(["worktree", "list", "--porcelain"], clone)
            if path.resolve() in unfinished_worktrees(listing):  # locked: remove refuses
                await self._forget_unfinished(clone, path)
            elif path.resolve() in parse_worktree_list(listing):
                await self._git(["worktree", "remove", "--force", str(path)], clone)
            elif path.exists():
                await asyncio.to_thread(shutil.rmtree, path)  # a leftover git forgot
            await self._git(["worktree", "prune"], clone)

    async def head_sha(self, path: Path) -> str:
        """The commit checked out at `path`."""
        return await self._git(["rev-parse", "HEAD"], path)

    async def _add_args(self, clone: Path, path: Path, branch: str, base: str) -> list[str]:
        if await self._has_ref(clone, f"refs/heads/{branch}"):
            return [str(path), branch]
        if await self._has_ref(clone, f"refs/remotes/origin/{branch}"):
            return ["-b", branch, str(path), f"origin/{branch}"]
        for start in (f"refs/remotes/origin/{base}", f"refs/heads/{base}"):
            if await self._has_ref(clone, start):
                # --no-track: the task branch is pushed as itself, never into main.
                return ["--no-track", "-b", branch, str(path), start]
        raise GitError(["worktree", "add", str(path)], f"no branch {base!r} to start from")

    async def _has_ref(self, clone: Path, ref: str) -> bool:
        args = ["rev-parse", "--verify", "--quiet", ref]
        return (await _run(args, cwd=clone, timeout_s=self._timeout)).code == 0

    async def _forget_unfinished(self, clone: Path, path: Path) -> None:
        """Drop a worktree whose `git worktree add` was killed before it finished.

        git keeps such a worktree registered (locked 'initializing', so prune spares it)
        with its branch checked out but only part of the files and no index: handed to
        an agent, its `git add --all` would commit the missing files as deleted. The
        branch stays; the worktree is added again from it."""
        log.warning("the worktree %s was cut short while git made it; removing it", path)
        await self._git(["worktree", "unlock", str(path)], clone)
        await asyncio.to_thread(shutil.rmtree, path, True)
        await self._git(["worktree", "prune"], clone)

    def _reused(self, path: Path, checked_out: str | None, branch: str) -> Path:
        # Two branch names can sanitise to one directory: never hand out the wrong branch.
        if checked_out != branch:
            raise GitError(
                ["worktree", "add", str(path)],
                f"{path} holds branch {checked_out!r}, not {branch!r}",
            )
        return path

    def _existing_clone(self, repo_name: str) -> Path:
        path = self.clone_path(repo_name)
        if not (path / ".git").exists():
            raise GitError(["worktree"], f"no clone of {repo_name!r}: call ensure_clone first")
        return path

    def _lock(self, repo_name: str) -> asyncio.Lock:
        return self._locks.setdefault(repo_name, asyncio.Lock())

    async def _git(self, args: Sequence[str], cwd: Path | None) -> str:
        return await run_git(args, cwd=cwd, timeout_s=self._timeout)


async def _made_whole(path: Path, make: Callable[[Path], Awaitable[object]]) -> None:
    """Make a repository in a sibling folder and rename it to `path` when it is complete.

    A process killed halfway through a clone or an init leaves only the sibling, which
    the next attempt removes; never a `.git` without a main branch at `path` that every
    later job of the repository would fail on ("no branch 'main' to start from")."""
    staging = path.with_name(f".{path.name}.partial")
    await asyncio.to_thread(_clear_the_way, path, staging)
    await make(staging)
    await asyncio.to_thread(_move_into_place, staging, path)


def _clear_the_way(path: Path, staging: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GitError(["clone"], f"{path} exists and is not a repository")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)  # what a killed attempt left


def _move_into_place(staging: Path, path: Path) -> None:
    if path.exists():
        path.rmdir()  # empty: checked before the repository was made
    staging.rename(path)


def parse_worktree_list(listing: str) -> dict[Path, str | None]:
    """`git worktree list --porcelain` as resolved path → branch (None when detached)."""
    found: dict[Path, str | None] = {}
    current: Path | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree ")).resolve()
            found[current] = None
        elif line.startswith("branch ") and current is not None:
            found[current] = line.removeprefix("branch refs/heads/")
    return found


def unfinished_worktrees(listing: str) -> set[Path]:
    """Worktrees a `git worktree add` began and never finished (a kill, a timeout): git
    locks a new worktree 'initializing' and unlocks it only once its checkout is done."""
    found: set[Path] = set()
    current: Path | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            current = Path(line.removeprefix("worktree ")).resolve()
        elif line == f"locked {_ADDING}" and current is not None:
            found.add(current)
    return found


def sanitise(branch: str) -> str:
    """A branch name as one directory name: runs of unsafe characters become '-'."""
    cleaned = _UNSAFE.sub("-", branch).strip(".-")
    if not cleaned:
        raise GitError(["worktree"], f"branch {branch!r} has no usable characters")
    return cleaned


def _checked_repo_name(name: str) -> str:
    # A repository name becomes a path: no '..', no absolute paths, no clash with _wt.
    parts = name.split("/")
    if (
        len(parts) > 2
        or parts[0] == WORKTREES_DIR
        or not all(_NAME_PART.fullmatch(part) for part in parts)
    ):
        raise GitError(["clone"], f"invalid repository name {name!r}")
    return name


async def init_local_repo(path: Path, files: Mapping[str, str] | None = None) -> Path:
    """A throwaway repository at `path` with one commit on main (for tests and the demo)."""
    _write_files(path, {})
    await run_git(["-c", "init.defaultBranch=main", "init", "--quiet"], cwd=path)
    # Also for a git older than init.defaultBranch (2.28): HEAD may point at an unborn main.
    await run_git(["symbolic-ref", "HEAD", "refs/heads/main"], cwd=path)
    for key, value in (
        ("user.name", "orch"),
        ("user.email", "orch@example.invalid"),
        ("commit.gpgsign", "false"),
    ):
        await run_git(["config", key, value], cwd=path)
    _write_files(path, files or {"README.md": "# demo\n"})
    await run_git(["add", "--all"], cwd=path)
    await run_git(["commit", "--quiet", "-m", "first commit"], cwd=path)
    return path


def _write_files(root: Path, files: Mapping[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
