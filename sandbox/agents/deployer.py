"""Sandbox deployer: pretends to deploy.

Knob: "[flaky-deploy]" in the title exits 75 (transient, worth a retry) on attempt 1,
so a demo shows a retry that then succeeds.
"""

from __future__ import annotations

import sys

from _common import env, title_has, write_result

TRANSIENT = 75


def main() -> int:
    if title_has("[flaky-deploy]") and env("ORCH_ATTEMPT") == "1":
        print("deployer: the target did not answer, try again later", file=sys.stderr)
        return TRANSIENT
    print(f"deployer: deployed {env('ORCH_TASK_KEY')} from {env('ORCH_BRANCH')}")
    write_result(summary=f"Deployed {env('ORCH_BRANCH')}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
