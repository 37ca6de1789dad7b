"""Answering in the group: every reply counts against the group's send budget."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update

from bot.context import Services


async def reply(services: Services, update: Update, html_text: str,
                markup: InlineKeyboardMarkup | None = None) -> None:
    """Reply to the message behind `update` with HTML, counted in the budget."""
    message = update.effective_message
    if message is None:
        return
    await message.reply_html(html_text, reply_markup=markup,
                             link_preview_options=LinkPreviewOptions(is_disabled=True))
    if message.chat_id == services.settings.telegram_chat_id:
        services.notifier.budget.take()

