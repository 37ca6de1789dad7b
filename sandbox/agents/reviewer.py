"""Sandbox reviewer: approves the branch's last commit.

Knob: "[bad-review]" in the title asks for changes on the first review in this
worktree only, so a demo shows review → development → review → approved.
"""

from __future__ import annotations

import sys

from _common import first_time, git, title_has, write_result


def main() -> int:
    subject = git("log", "-1", "--format=%s")
    if title_has("[bad-review]") and first_time("bad-review"):
        print(f"reviewer: changes requested on {subject!r}")
        write_result(verdict="REQUEST_CHANGES", summary="Please add a test for the change.")
        return 0
    print(f"reviewer: approved {subject!r}")
    write_result(verdict="APPROVE", summary=f"Looks good: {subject}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
