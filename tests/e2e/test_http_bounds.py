"""orch's HTTP face and its stop are bounded whatever the other side does: a 10 MB body is
refused without being read into memory, and SIGTERM ends orch promptly while Plane
hangs. `orch run` is a real process; Plane is a listener that never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.telegram.emulator import TelegramEmulator
from tests.orch_process import OrchProcess, free_port, orch_env, start_orch, until

TEN_MB = 10 * 1024 * 1024
CHUNK = b"\0" * 65536
FEW_MB = 4 * 1024 * 1024
LIMIT = 1_000_000  # ORCH_HTTP_MAX_BODY_BYTES's default


class HangingPlane:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._held: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._held.append(writer)
        while await reader.read(65536):
            pass

    def close(self) -> None:
        for writer in self._held:
            writer.close()


@pytest.fixture
async def hanging_plane() -> AsyncIterator[tuple[HangingPlane, str]]:
    plane = HangingPlane()
    server = await asyncio.start_server(plane.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield plane, f"http://127.0.0.1:{port}"
    finally:
        plane.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def orch(hanging_plane: tuple[HangingPlane, str], tmp_path: Path
               ) -> AsyncIterator[tuple[OrchProcess, int]]:
    _, plane_url = hanging_plane
    port = free_port()
    async with TelegramEmulator().serve() as url:
        env = orch_env(url, tmp_path / "orch.db", ORCH_HTTP_PORT=str(port),
                       ORCH_PLANE_API_URL=plane_url, ORCH_PLANE_API_TOKEN="plane-key",
                       ORCH_PLANE_WORKSPACE_SLUG="acme", ORCH_PLANE_WEBHOOK_SECRET="s3cret",
                       ORCH_RECONCILE_INTERVAL_S="1")
        process = await start_orch(env, tmp_path / "orch.log")
        try:
            await until(lambda: "Application started" in process.stderr(), what="start-up")
            yield process, port
        finally:
            if process.proc.returncode is None:
                await process.stop()


def _memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := RSS now


async def _post(port: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST a 10 MB body of zeros to /hooks/plane, unsigned, sending on only while orch
    has not answered; (the response's status line, body bytes sent by then)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = b"Transfer-Encoding: chunked" if chunked else f"Content-Length: {TEN_MB}".encode()
    writer.write(b"POST /hooks/plane HTTP/1.1\r\nHost: orch\r\n"
                 b"Content-Type: application/json\r\n" + framing + b"\r\n\r\n")
    answer = asyncio.ensure_future(reader.readline())
    sent = 0
    # Content-Length: the headers alone must bring the answer. Chunked: send on until
    # past the limit, then stop and listen (writing into a closed connection would be
    # reset, and a reset can swallow the answer before it is read).
    while chunked and sent <= LIMIT and not answer.done():
        writer.write(f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n")
        await writer.drain()
        sent += len(CHUNK)
    status = await asyncio.wait_for(answer, 30)
    writer.close()
    return status, sent


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_10_mb_unsigned_webhook_is_413_without_growing_memory(
        orch: tuple[OrchProcess, int], chunked: bool) -> None:
    process, port = orch
    _reset_peak(process.pid)
    before = _memory_kb(process.pid, "VmRSS")

    status, sent = await _post(port, chunked=chunked)

    peak = _memory_kb(process.pid, "VmHWM")
    assert status.startswith(b"HTTP/1.1 413 "), status
    assert sent == (LIMIT // len(CHUNK) + 1) * len(CHUNK) if chunked else sent == 0
    assert (peak - before) * 1024 < FEW_MB, f"peak grew by {peak - before} kB"


async def test_sigterm_stops_orch_within_10_s_while_plane_hangs(
        orch: tuple[OrchProcess, int], hanging_plane: tuple[HangingPlane, str]) -> None:
    process, _ = orch
    plane, _ = hanging_plane
    await until(lambda: plane.connections > 0, what="a reconcile call to Plane")

    status = await process.stop(within=10.0)

    assert status == 0, process.stderr()  # a clean stop, not the last-resort exit
    assert "Traceback" not in process.stderr()
