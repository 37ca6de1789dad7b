"""Sandbox developer: notes the task in work/<TASK>.md in the worktree and commits it.

Run as `python developer.py {prompt_file}`. Each run appends a line, so every attempt
makes a commit. Knob: "[fail-dev]" in the title exits 1 (a plain failure).
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
    git("add", str(note))
    git("commit", "--quiet", "-m", f"{key}: {env('ORCH_TASK_TITLE')} (attempt {attempt})")
    print(f"developer: committed {note}")
    write_result(summary=f"Updated {note} for {key}, attempt {attempt}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
