"""The agent's guard: a tiny parent that makes an agent's whole process group die with orch.

    python -I -S guard.py PARENT_PID -- COMMAND [ARG...]

orch starts this script (not the agent) as the leader of a new process group. The guard
asks Linux for a signal when orch dies (prctl PR_SET_PDEATHSIG), starts the agent in the
same group with the same request for itself, waits for it and exits as it did (same
code, or killed by the same signal). When orch dies, however it dies (SIGKILL, OOM), the
guard kills the whole group, grandchildren included. A SIGTERM from orch itself (a
timeout, a stop) reaches the agent directly through the group and is not acted on here.

It imports only the standard library and runs isolated (-I -S): it must start fast and
must not depend on orch's package being importable. Without prctl (not Linux) it is a
plain pass-through, and orch's start-up sweep is the only net.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
CANNOT_START = 127  # the shell's "command not found"


def _death_signal(sig: int) -> bool:
    """Ask for `sig` when our parent dies; False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _kill_group_if_orphaned(orch_pid: int) -> None:
    if os.getppid() != orch_pid:  # orch is gone: nothing of this run may go on
        os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--" or not argv[1].isdigit():
        print("usage: guard.py PARENT_PID -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    orch_pid, command = int(argv[1]), argv[3:]
    signal.signal(signal.SIGTERM, lambda *_: _kill_group_if_orphaned(orch_pid))
    _death_signal(signal.SIGTERM)
    if os.getppid() != orch_pid:
        return CANNOT_START  # orch died before the death signal was armed
    try:
        # the agent, too, dies if the guard does (its own death signal, set after fork)
        agent = subprocess.Popen(command, preexec_fn=lambda: _death_signal(signal.SIGKILL))
    except OSError as exc:
        print(f"[orch] cannot start {command[0]!r}: {exc.strerror or exc}", flush=True)
        return CANNOT_START
    code = agent.wait()
    if code < 0:  # die the way the agent died, so orch reports the same signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
