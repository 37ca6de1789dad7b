"""Sandbox developer: notes the task in work/<TASK>.md in the worktree and commits it.

Run as `python developer.py {prompt_file}`. Each run appends a line, so every attempt
makes a commit. Knobs: "[fail-dev]" in the title exits 1 (a plain failure);
"[rename-greet]" renames app.greet to hello and its own test with it; "[call-greet]"
adds a test that calls greet, or hello once app.py has it (green alone, red on top of
the rename until it comes back rebased and calls what is there).
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import env, git, prompt_text, title_has, write_result


def main() -> int:
    if title_has("[fail-dev]"):
        print("developer: giving up, as the title asks", file=sys.stderr)
        return 1
    key, attempt = env("ORCH_TASK_KEY"), env("ORCH_ATTEMPT")
    first_line = (prompt_text().splitlines() or [""])[0]
    note = Path("work") / f"{key}.md"
    note.parent.mkdir(exist_ok=True)
    with note.open("a", encoding="utf-8") as out:
        out.write(f"- attempt {attempt}: {env('ORCH_TASK_TITLE')} (prompt: {first_line})\n")
    _code_knobs(key)
    git("add", "--all")
    git("commit", "--quiet", "-m", f"{key}: {env('ORCH_TASK_TITLE')} (attempt {attempt})")
    print(f"developer: committed {note}")
    write_result(summary=f"Updated {note} for {key}, attempt {attempt}.")
    return 0


def _code_knobs(key: str) -> None:
    if title_has("[rename-greet]"):
        Path("app.py").write_text("def hello():\n    return 'hi'\n", encoding="utf-8")
        Path("test_app.py").write_text("from app import hello\nassert hello() == 'hi'\n",
                                       encoding="utf-8")
    if title_has("[call-greet]"):
        name = "hello" if "def hello" in Path("app.py").read_text(encoding="utf-8") else "greet"
        Path(f"test_{key.lower().replace('-', '_')}.py").write_text(
            f"from app import {name}\nassert {name}().startswith('hi')\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
