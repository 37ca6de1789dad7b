"""Sandbox tester: runs the repository's `run_tests.py` when it has one (the merge gate's
re-test too), else reports tests and coverage without running anything.

Knobs in the title: "[fail-tests]" reports failing tests on the first test run in this
worktree only (so a rollback and then a pass can be shown); "[low-coverage]" reports
42 % coverage. Failing tests are a result, not a crash: the exit code stays 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _common import first_time, title_has, write_result


def main() -> int:
    if Path("run_tests.py").exists():
        return run_the_tests()
    passed = not (title_has("[fail-tests]") and first_time("fail-tests"))
    coverage = 42.0 if title_has("[low-coverage]") else 91.5
    print(f"tester: {'all tests passed' if passed else '1 failed, 9 passed'}, {coverage} %")
    write_result(
        tests_passed=passed,
        coverage=coverage,
        summary="10 passed" if passed else "1 failed, 9 passed",
    )
    return 0


def run_the_tests() -> int:
    # -B: no bytecode cache, whose 1 s mtime would hide a same-sized edit
    done = subprocess.run([sys.executable, "-B", "run_tests.py"], capture_output=True, text=True,
                          timeout=60)
    # paths relative to the worktree: the same output wherever the worktree lives
    output = (done.stdout + done.stderr).strip().replace(str(Path.cwd()) + "/", "")
    print(output)
    last = output.splitlines()[-1] if output else "no output"
    write_result(tests_passed=done.returncode == 0, coverage=91.5, summary=last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
