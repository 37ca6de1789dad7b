"""A Plane emulator: the real API's shapes and status codes, in memory, for tests,
the demo and the benchmark.

    emulator = PlaneEmulator(clock, api_key="k", workspace="acme")
    emulator.add_project("ORCH", "Orchestrator")
    emulator.add_item("ORCH", "First", state="Todo")
    async with serve_emulator(emulator) as url:
        client = PlaneClient(url, "k", "acme", clock=clock)
"""

from sandbox.plane.app import build_app
from sandbox.plane.emulator import EmulatorStats, PlaneEmulator
from sandbox.plane.server import serve, serve_emulator
from sandbox.plane.webhooks import SentDelivery, WebhookSender

__all__ = [
    "EmulatorStats",
    "PlaneEmulator",
    "SentDelivery",
    "WebhookSender",
    "build_app",
    "serve",
    "serve_emulator",
]
