"""The files of one run, side by side: the capped log, the prompt, the result and the
heartbeat (run-7.log, run-7.prompt.md, run-7.result.json, run-7.heartbeat)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from core.jobs.agents import parse_structured_result
from core.jobs.watch import RunControl

MAX_ERROR_CHARS = 1000
TAIL_LINES = 20
_TAIL_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class RunFiles:
    """The prompt and result files that sit next to a run's log."""

    prompt: Path
    result: Path
    heartbeat: Path

    @classmethod
    def beside(cls, log_path: Path) -> RunFiles:
        stem = log_path.name.removesuffix(".log")
        return cls(
            log_path.with_name(f"{stem}.prompt.md"), log_path.with_name(f"{stem}.result.json"),
            log_path.with_name(f"{stem}.heartbeat"),
        )

    def prepare(self, prompt: str) -> None:
        self.prompt.parent.mkdir(parents=True, exist_ok=True)
        self.prompt.write_text(prompt, encoding="utf-8")
        # A result left by an earlier run under the same name must not pass for this one's.
        self.result.unlink(missing_ok=True)
        self.heartbeat.unlink(missing_ok=True)

    def read_result(self, cap_bytes: int) -> tuple[dict[str, Any], str | None, bool]:
        """(structured, note, oversize). A file over `cap_bytes` is never read whole:
        it fails the run, so a runaway agent cannot fill memory or the database."""
        try:
            with self.result.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                data = file.read(cap_bytes + 1) if size <= cap_bytes else b""
        except FileNotFoundError:
            return {}, None, False
        except OSError as exc:
            return {}, f"result file: unreadable ({exc})", False
        if size > cap_bytes or len(data) > cap_bytes:
            return {}, (f"result file is {max(size, len(data))} bytes, over the cap of "
                        f"{cap_bytes} (ORCH_AGENT_RESULT_MAX_BYTES)"), True
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return {}, f"result file: unreadable ({exc})", False
        return (*parse_structured_result(text), False)


class CappedLog:
    """A run's log: output up to a cap, then one marker line; the tail kept in memory."""

    def __init__(self, path: Path, cap_bytes: int, control: RunControl | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._control = control
        self._file = path.open("wb")
        self._cap = cap_bytes
        self._written = 0
        self._truncated = False
        self._tail = bytearray()

    def __enter__(self) -> CappedLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._file.close()

    def write(self, data: bytes) -> None:
        if self._control is not None:
            self._control.touch()
        self._tail += data
        del self._tail[:-_TAIL_BYTES]
        room = max(0, self._cap - self._written)
        self._put(data[:room])
        self._written += min(room, len(data))
        if len(data) > room and not self._truncated:
            self._truncated = True
            self._put(f"\n[log truncated at {self._cap} bytes]\n".encode())

    def note(self, text: str) -> None:
        """orch's own line: always written, counted against the cap, not in the tail."""
        data = text.encode("utf-8", "replace")
        self._put(data)
        self._written += len(data)

    def tail_text(self) -> str:
        lines = self._tail.decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
        return "\n".join(lines).strip()[-MAX_ERROR_CHARS:]

    def _put(self, data: bytes) -> None:
        if not data or self._file.closed:
            return
        try:
            self._file.write(data)
            self._file.flush()
        except OSError:
            self._file.close()  # a full disk loses the log, not the run
