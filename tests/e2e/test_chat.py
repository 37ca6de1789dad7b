"""The team talks to orch in its group: commands, cards and buttons over real HTTP."""

from __future__ import annotations

from sandbox.team import DEV, GROUP, OUTSIDE, Team


async def test_new_task_gets_a_card_with_approve_and_cancel(team: Team) -> None:
    reply = await team.say("/new api Add retry to the webhook sender")
    assert "Created ORCH-1" in reply["plain_text"]
    await team.settle()
    card = await team.card("ORCH-1")
    assert "ORCH-1" in card["plain_text"] and "queued" in card["plain_text"]
    assert set(team.buttons(card)) == {"Approve", "Cancel"}


async def test_approve_moves_the_task_and_edits_the_card_in_place(team: Team) -> None:
    await team.say("/new api Ship it")
    await team.settle()
    card = await team.card("ORCH-1")
    answer = await team.press(card["message_id"], team.buttons(card)["Approve"])
    assert "development" in answer["text"]
    await team.settle()
    task = await team.orch.pipeline.find("ORCH-1")
    assert task.stage == "development"
    edited = await team.card("ORCH-1")
    assert edited["message_id"] == card["message_id"] and edited["edited"]
    history = await team.orch.pipeline.history(task.id)
    assert history[-1].actor == "telegram:501"


async def test_a_non_approver_is_refused_and_nothing_changes(team: Team) -> None:
    await team.say("/new api Guarded")
    await team.settle()
    card = await team.card("ORCH-1")
    answer = await team.press(card["message_id"], team.buttons(card)["Approve"], user=DEV)
    assert "Only approvers" in answer["text"]
    assert (await team.orch.pipeline.find("ORCH-1")).stage == "queued"
    reply = await team.say("/new api Sneaky", user=DEV)
    assert "Only approvers" in reply["plain_text"]


async def test_a_stale_card_is_refused_and_refreshed(team: Team) -> None:
    await team.say("/new api Twice pressed")
    await team.settle()
    card = await team.card("ORCH-1")
    approve = team.buttons(card)["Approve"]
    await team.press(card["message_id"], approve)
    answer = await team.press(card["message_id"], approve)
    assert "out of date" in answer["text"]
    task = await team.orch.pipeline.find("ORCH-1")
    assert task.stage == "development" and task.version == 2


async def test_forged_button_data_is_refused(team: Team) -> None:
    await team.say("/new api Forgery target")
    await team.settle()
    card = await team.card("ORCH-1")
    task = await team.orch.pipeline.find("ORCH-1")
    answer = await team.press(card["message_id"], f"t:ap:{task.id}:1:0000000000")
    assert "not valid" in answer["text"]
    assert (await team.orch.pipeline.find("ORCH-1")).stage == "queued"


async def test_outside_chat_gets_one_polite_refusal(team: Team) -> None:
    reply = await team.say("/queue", chat=OUTSIDE, user=DEV)
    assert "one team group" in reply["plain_text"]
    team.emu.user_message(OUTSIDE, "/new api nope", user_id=DEV)
    await team.say("/queue")  # the group is served; by now the outsider's second try is seen
    outside = [m for m in team.emu.chat_messages(OUTSIDE) if m["from_bot"]]
    assert len(outside) == 1
    assert (await team.orch.pipeline.open_tasks()) == []


async def test_queue_and_task_commands(team: Team) -> None:
    for title in ("First", "Second", "Third"):
        await team.say(f"/new api {title}")
    await team.settle()
    card = await team.card("ORCH-2")
    await team.press(card["message_id"], team.buttons(card)["Approve"])
    reply = await team.say("/queue")
    assert "queued (2)" in reply["plain_text"] and "development (1)" in reply["plain_text"]
    reply = await team.say("/task orch-2")
    assert "ORCH-2" in reply["plain_text"] and "development" in reply["plain_text"]
    reply = await team.say("/task ORCH-99")
    assert "Unknown task ORCH-99" in reply["plain_text"]
    reply = await team.say("/task")
    assert "Usage" in reply["plain_text"]


async def test_commands_are_registered(team: Team) -> None:
    commands = team.emu.commands()
    names = {c["command"] for c in next(iter(commands.values()))} if commands else set()
    assert {"queue", "task", "new", "help", "start"} <= names
    reply = await team.say("/help", chat=GROUP)  # and /help in the group lists them all
    assert {line.split(" ")[0] for line in reply["plain_text"].splitlines()[1:]} == {
        f"/{name}" for name in names}
