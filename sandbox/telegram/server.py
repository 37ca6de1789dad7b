"""Serve an ASGI app with uvicorn inside the running event loop, on a free loopback port."""

from __future__ import annotations

from app.http_server import serve_asgi as serve

__all__ = ["serve"]
