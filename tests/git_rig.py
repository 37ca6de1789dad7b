"""Real git for forge and gate tests: a person's clone that commits and pushes branches."""

from __future__ import annotations

from pathlib import Path

from core.integrations.git.workspace import run_git, try_git


class PersonClone:
    """A developer's clone of a bare repository: commits files on branches and pushes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    async def of(cls, bare: Path | str, path: Path) -> PersonClone:
        await run_git(["clone", "--quiet", str(bare), str(path)])
        for key, value in (("user.name", "person"), ("user.email", "person@example.invalid"),
                           ("commit.gpgsign", "false")):
            await run_git(["config", key, value], cwd=path)
        return cls(path)

    async def commit(self, branch: str, files: dict[str, str], *, base: str = "main",
                     message: str | None = None) -> str:
        """Commit `files` on `branch` (made from origin/`base` if new); returns the SHA."""
        await run_git(["fetch", "--quiet", "origin"], cwd=self.path)
        code, _, _ = await try_git(["rev-parse", "--verify", "--quiet", f"origin/{branch}"],
                                   cwd=self.path)
        start = f"origin/{branch}" if code == 0 else f"origin/{base}"
        await run_git(["checkout", "--quiet", "-B", branch, start], cwd=self.path)
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        await run_git(["add", "--all"], cwd=self.path)
        await run_git(["commit", "--quiet", "-m", message or f"{branch}: edit"], cwd=self.path)
        return await run_git(["rev-parse", "HEAD"], cwd=self.path)

    async def push(self, branch: str, *, force: bool = False) -> None:
        await run_git(["push", "--quiet", *(["--force"] if force else []), "origin",
                       f"{branch}:{branch}"], cwd=self.path)

    async def commit_and_push(self, branch: str, files: dict[str, str], **kw: str) -> str:
        sha = await self.commit(branch, files, **kw)
        await self.push(branch, force=True)
        return sha


async def rev(bare: Path | str, ref: str) -> str | None:
    code, out, _ = await try_git(["rev-parse", "--verify", "--quiet", ref], cwd=Path(bare))
    return out if code == 0 else None


async def move_main(bare: Path | str, files: dict[str, str], work: Path) -> str:
    """Main moves under everyone (a person merged elsewhere): a commit written straight
    into the bare repository, as the forge itself would."""
    person = await PersonClone.of(bare, work)
    sha = await person.commit("side-merge", files, message="merged elsewhere")
    await run_git(["push", "--quiet", "origin", "side-merge"], cwd=person.path)
    old = await rev(bare, "refs/heads/main")
    await run_git(["update-ref", "refs/heads/main", sha, old or ""], cwd=Path(bare))
    await run_git(["update-ref", "-d", "refs/heads/side-merge"], cwd=Path(bare))
    return sha
