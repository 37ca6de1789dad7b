"""Sandbox tester: reports tests and coverage without running anything.

Knobs in the title: "[fail-tests]" reports failing tests on the first test run in this
worktree only (so a rollback and then a pass can be shown); "[low-coverage]" reports
42 % coverage. Failing tests are a result, not a crash: the exit code stays 0.
"""

from __future__ import annotations

import sys

from _common import first_time, title_has, write_result


def main() -> int:
    passed = not (title_has("[fail-tests]") and first_time("fail-tests"))
    coverage = 42.0 if title_has("[low-coverage]") else 91.5
    print(f"tester: {'all tests passed' if passed else '1 failed, 9 passed'}, {coverage} %")
    write_result(
        tests_passed=passed,
        coverage=coverage,
        summary="10 passed" if passed else "1 failed, 9 passed",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
