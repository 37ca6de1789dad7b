"""The Telegram emulator over real HTTP on 127.0.0.1, driven by python-telegram-bot itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from core.clock import ManualClock
from sandbox.telegram import EmulatorControl, EmulatorControlError, TelegramEmulator

TOKEN = "4242:emulator-test-token"
ALICE = 1001
GROUP = -100_500


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns on RetryAfter.retry_after as int; filterwarnings=error would turn that
    # warning into the exception instead of RetryAfter. Opt in to the timedelta form.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> TelegramEmulator:
    emulator = TelegramEmulator(clock=clock, token=TOKEN)
    emulator.create_chat(ALICE, "private", first_name="Alice")
    emulator.create_chat(GROUP, "supergroup", "Team")
    return emulator


@pytest.fixture
async def url(emu: TelegramEmulator) -> AsyncIterator[str]:
    async with emu.serve() as base_url:
        yield base_url


@pytest.fixture
async def bot(url: str) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{url}/bot") as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def control(url: str) -> AsyncIterator[EmulatorControl]:
    async with EmulatorControl(url) as client:
        yield client


def keyboard(*datas: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in datas]])


# --- sending and editing -----------------------------------------------------------------


async def test_get_me_through_ptb(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 4242
    assert me.is_bot
    assert bot.username == me.username


async def test_send_html_with_inline_keyboard(
    bot: Bot, emu: TelegramEmulator, clock: ManualClock
) -> None:
    sent = await bot.send_message(
        ALICE, "<b>Run</b> &lt;42&gt; done", parse_mode="HTML", reply_markup=keyboard("run:42")
    )
    assert sent.text == "Run <42> done"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 3)]
    assert sent.reply_markup == keyboard("run:42")
    [seen] = emu.chat_messages(ALICE)
    assert seen["from_bot"]
    assert seen["text"] == "<b>Run</b> &lt;42&gt; done"
    assert seen["plain_text"] == "Run <42> done"
    assert seen["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "run:42"
    assert seen["date"] == clock.now().isoformat()


async def test_edit_text_then_identical_edit_is_not_modified(
    bot: Bot, emu: TelegramEmulator
) -> None:
    sent = await bot.send_message(ALICE, "queued", reply_markup=keyboard("stop"))
    edited = await bot.edit_message_text(
        "<i>running</i>", ALICE, sent.message_id, parse_mode="HTML", reply_markup=keyboard("stop")
    )
    assert edited.text == "running"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<i>running</i>",
            ALICE,
            sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("stop"),
        )
    [seen] = emu.chat_messages(ALICE)
    assert (seen["edit_count"], seen["edited"]) == (1, True)
    assert emu.chat_stats(ALICE).edits == 1


async def test_edit_without_markup_drops_keyboard_and_unknown_message_fails(bot: Bot) -> None:
    sent = await bot.send_message(ALICE, "pick", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text("picked", ALICE, sent.message_id)
    assert edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", ALICE, 999)
    with pytest.raises(BadRequest, match=r"(?i)Chat not found"):
        await bot.send_message(777, "nobody here")


async def test_edit_reply_markup_only(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(ALICE, "card", reply_markup=keyboard("a"))
    edited = await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=keyboard("b"))
    assert edited.reply_markup == keyboard("b")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(ALICE, sent.message_id, reply_markup=keyboard("b"))
    assert emu.chat_messages(ALICE)[0]["plain_text"] == "card"


async def test_callback_data_is_limited_to_64_bytes(bot: Bot) -> None:
    await bot.send_message(ALICE, "ok", reply_markup=keyboard("é" * 32))  # 64 bytes
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "too long", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE, "too long", reply_markup=keyboard("é" * 33))


async def test_text_length_counts_visible_utf16_text(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, "😀" * 2049)  # 4098 UTF-16 code units
    sent = await bot.send_message(ALICE, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(sent.text) == 4096
    await bot.send_message(ALICE, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE, "<b> </b>", parse_mode="HTML")


@pytest.mark.parametrize(
    "broken",
    ["<b>unclosed", "<div>no</div>", "a < b", "<b><i>x</b></i>", "&nbsp;", "x<br/>y", "</b>"],
)
async def test_broken_html_is_rejected(bot: Bot, broken: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE, broken, parse_mode="HTML")


# --- flood control -----------------------------------------------------------------------


async def test_burst_then_429_then_recovery(
    bot: Bot, emu: TelegramEmulator, clock: ManualClock
) -> None:
    sent = [await bot.send_message(ALICE, f"n{i}") for i in range(3)]
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(ALICE, "one too many")
    assert raised.value.retry_after == timedelta(seconds=1)
    with pytest.raises(RetryAfter):  # edits spend the same budget
        await bot.edit_message_text("edited", ALICE, sent[0].message_id)
    clock.advance(1)
    await bot.send_message(ALICE, "after the wait")
    stats = emu.chat_stats(ALICE)
    assert (stats.sent, stats.rate_limited) == (4, 2)
    assert [c["error_code"] for c in emu.calls("sendMessage")] == [None, None, None, 429, None]


async def test_group_allows_20_messages_a_minute(
    bot: Bot, emu: TelegramEmulator, clock: ManualClock
) -> None:
    for i in range(20):
        await bot.send_message(GROUP, f"m{i}")
        clock.advance(1)  # stay within the per-chat 1/s bucket
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(GROUP, "21st")
    # The first message left the window 60 s after it was sent; 20 s have passed.
    assert raised.value.retry_after == timedelta(seconds=40)
    clock.advance(40)
    await bot.send_message(GROUP, "room again")
    assert emu.chat_stats(GROUP).sent == 21


async def test_thirty_messages_a_second_overall(bot: Bot, emu: TelegramEmulator) -> None:
    for chat_id in range(2000, 2030):
        emu.create_chat(chat_id)
        await bot.send_message(chat_id, "hi")
    emu.create_chat(2030)
    with pytest.raises(RetryAfter):
        await bot.send_message(2030, "31st this second")


# --- updates -----------------------------------------------------------------------------


async def test_long_poll_returns_user_message_and_offset_confirms(
    bot: Bot, emu: TelegramEmulator, control: EmulatorControl
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.wait_for_poll()
    assert not poll.done()
    written = await control.send_message(ALICE, "/status 42", first_name="Alice")
    [update] = await poll
    assert update.update_id == written["update_id"]
    assert update.message.text == "/status 42"
    assert update.message.from_user.first_name == "Alice"
    assert [(e.type, e.length) for e in update.message.entities] == [("bot_command", 7)]
    assert await bot.get_updates(offset=update.update_id, timeout=0) == (update,)
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_second_poll_ends_the_first_with_conflict(
    bot: Bot, emu: TelegramEmulator, url: str
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.wait_for_poll()
    async with Bot(TOKEN, base_url=f"{url}/bot") as other:
        assert await other.get_updates(timeout=0) == ()
    with pytest.raises(Conflict):
        await first


async def test_button_press_and_callback_answer(
    bot: Bot, emu: TelegramEmulator, control: EmulatorControl, clock: ManualClock
) -> None:
    sent = await bot.send_message(ALICE, "approve?", reply_markup=keyboard("ok:1", "no:1"))
    query_id = await control.press_button(ALICE, sent.message_id, "ok:1")
    [update] = await bot.get_updates(timeout=5)
    query = update.callback_query
    assert (query.id, query.data, query.message.message_id) == (query_id, "ok:1", sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    assert await bot.answer_callback_query(query.id, text="Approved", show_alert=True)
    answer = await control.callback_answer(query_id)
    assert (answer["text"], answer["show_alert"]) == ("Approved", True)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    late = await control.press_button(ALICE, sent.message_id, "no:1")
    clock.advance(16)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(late)
    with pytest.raises(EmulatorControlError, match=r"(?i)no button"):
        await control.press_button(ALICE, sent.message_id, "gone")


async def test_commands_and_webhook_methods(bot: Bot) -> None:
    assert await bot.set_my_commands([("status", "Show the pipeline"), ("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["status", "help"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Name", "no")])
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""


# --- wire format ---------------------------------------------------------------------------


async def test_raw_http_shapes(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        unknown_token = await http.post("/bot1:nope/getMe")
        assert unknown_token.status_code == 401
        assert unknown_token.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
        unknown_method = await http.post(f"/bot{TOKEN}/sendPigeon")
        assert unknown_method.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
        as_json = await http.post(
            f"/bot{TOKEN}/sendMessage",
            json={"chat_id": ALICE, "text": "json body", "reply_markup": markup},
        )
        assert as_json.json()["result"]["reply_markup"] == markup
        form = {"chat_id": str(ALICE), "text": "form body", "reply_markup": json.dumps(markup)}
        as_form = await http.post(f"/bot{TOKEN}/sendMessage", data=form)
        assert as_form.json()["result"]["text"] == "form body"
        as_multipart = await http.post(
            f"/bot{TOKEN}/sendMessage", data=form, files={"unused": ("f.txt", b"x")}
        )
        assert as_multipart.json()["result"]["reply_markup"] == markup
        flood = await http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": ALICE, "text": "4"})
        assert flood.status_code == 429
        assert flood.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }


async def test_wrong_token_makes_ptb_raise_invalid_token(url: str) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=f"{url}/bot"):
            pass


async def test_control_api_views_and_reset(
    bot: Bot, emu: TelegramEmulator, control: EmulatorControl
) -> None:
    await control.create_chat(-42, "group", "Ops")
    await control.send_message(-42, "hello bot", user_id=ALICE, first_name="Alice")
    await bot.send_message(-42, "hello Alice", reply_to_message_id=1)
    view = await control.chat(-42)
    assert view["chat"] == {"id": -42, "type": "group", "title": "Ops"}
    assert [(m["from_bot"], m["plain_text"]) for m in view["messages"]] == [
        (False, "hello bot"),
        (True, "hello Alice"),
    ]
    assert view["messages"][1]["reply_to_message_id"] == 1
    assert (await control.stats())["chats"]["-42"]["sent"] == 1
    assert [c["method"] for c in await control.calls("sendMessage")] == ["sendMessage"]
    await control.reset()
    assert await control.chats() == []
    with pytest.raises(EmulatorControlError) as raised:
        await control.messages(-42)
    assert raised.value.status == 404


# --- python-telegram-bot's Application, unchanged --------------------------------------------


async def test_ptb_application_polls_answers_and_edits(
    url: str, emu: TelegramEmulator, control: EmulatorControl
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_html("<b>Hi</b>", reply_markup=keyboard("go"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("on it")
        await update.callback_query.edit_message_text("Going")

    app = ApplicationBuilder().token(TOKEN).base_url(f"{url}/bot").build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=10)
        await control.send_message(ALICE, "/start")
        reply = await control.wait_for_bot_message(ALICE, after_message_id=1)
        assert reply["plain_text"] == "Hi"
        query_id = await control.press_button(ALICE, reply["message_id"], "go")
        assert (await control.callback_answer(query_id))["text"] == "on it"
        assert await emu.wait_for(lambda: emu.chat_messages(ALICE)[-1]["edited"])
        await app.updater.stop()
        await app.stop()
    assert emu.chat_messages(ALICE)[-1]["plain_text"] == "Going"
    assert emu.chat_messages(ALICE)[-1]["reply_markup"] is None
