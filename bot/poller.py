"""Long polling into the inbox: an update is stored before its offset is confirmed.

Telegram counts an update as delivered once a getUpdates asks for a higher offset. The
next offset is read back from the inbox, so it only moves past updates that are safely
in SQLite. A webhook would call `Inbox.receive` the same way.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application

from bot.callbacks import BadButtonData, ButtonCodec, Namespace
from core.chat.inbox import Inbox
from core.clock import Clock
from core.errors import DomainError
from core.pipeline.service import PipelineService

log = logging.getLogger(__name__)

KEYS = re.compile(r"\b([A-Za-z][A-Za-z0-9]{0,9}-\d{1,9})\b")
UPDATE_KINDS = ["message", "callback_query"]
ERROR_PAUSE_S = 2.0


async def poll(app: Application, inbox: Inbox, clock: Clock, *, poll_s: int = 10) -> None:
    """Fetch updates forever; owned and cancelled by the runtime."""
    offset = await inbox.next_offset()
    while True:
        try:
            updates = await app.bot.get_updates(
                offset=offset, timeout=poll_s, allowed_updates=UPDATE_KINDS,
                read_timeout=poll_s + 10)
        except Conflict:
            log.warning("another getUpdates is running for this bot; trying again")
            await clock.sleep(ERROR_PAUSE_S)
            continue
        except TelegramError as exc:
            log.warning("getUpdates failed: %s", exc)
            await clock.sleep(ERROR_PAUSE_S)
            continue
        if not updates:
            continue
        try:
            await inbox.receive([u.to_dict() for u in updates])
        except Exception:  # not stored: the same offset asks Telegram for them again
            log.exception("could not keep %s updates; fetching them again", len(updates))
            await clock.sleep(ERROR_PAUSE_S)
            continue
        offset = max(offset, max(u.update_id for u in updates) + 1)


def handler_for(app: Application) -> Any:
    """The inbox's handler: PTB's handlers, run on the stored update."""

    async def handle(payload: dict[str, Any]) -> None:
        update = Update.de_json(payload, app.bot)
        await app.process_update(update)

    return handle


def lanes_for(pipeline: PipelineService, codec: ButtonCodec) -> Any:
    """Which tasks an update is about: presses by the task in their data, commands by the
    keys in their text, so two updates about one task never interleave."""

    async def lanes(payload: dict[str, Any]) -> frozenset[str]:
        query = payload.get("callback_query")
        if query:
            return await _press_lanes(pipeline, codec, str(query.get("data") or ""))
        text = str((payload.get("message") or {}).get("text") or "")
        return frozenset(f"task:{key.upper()}" for key in KEYS.findall(text))

    return lanes


async def _press_lanes(pipeline: PipelineService, codec: ButtonCodec,
                       data: str) -> frozenset[str]:
    try:
        button = codec.decode(data)
    except BadButtonData:
        return frozenset()
    if button.namespace is Namespace.LESSON:
        return frozenset({f"lesson:{button.object_id}"})
    try:
        task = await pipeline.get(button.object_id)
    except DomainError:
        return frozenset()
    return frozenset({f"task:{task.key.upper()}"})
