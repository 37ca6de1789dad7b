"""The courier over real SQLite, a fake sender and a manual clock: what it sends, folds,
retires and owns up to after a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.chat.courier import Courier
from core.chat.model import RowKind, SendOutcome, SendResult
from core.clock import ManualClock
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import Actor
from core.ports import NotifierHub
from storage.chat_inbox import SqliteInbox
from storage.chat_outbox import SqliteCards, SqliteOutbox
from storage.database import Database
from storage.tasks import SqliteTaskStore
from tests.fakes.chat import FakeRenderer, FakeSender, Killed

LENA = Actor("telegram", "77", "Lena")


class Rig:
    def __init__(self, db: Database, clock: ManualClock) -> None:
        self.db, self.clock = db, clock
        self.tasks = SqliteTaskStore(db)
        self.pipeline = PipelineService(self.tasks, DEFAULT_PIPELINE, clock, NotifierHub())
        self.sender = FakeSender()

    def courier(self, per_minute: int = 18) -> Courier:
        return Courier(outbox=SqliteOutbox(self.db), cards=SqliteCards(self.db),
                       tasks=self.tasks, renderer=FakeRenderer(), sender=self.sender,
                       clock=self.clock, per_minute=per_minute)

    async def needs_approval(self, n: int) -> list[int]:
        """n tasks moved to review→…→merge, which needs a person."""
        ids = []
        for i in range(n):
            task = await self.pipeline.create("api", f"T{i}", LENA)
            for _ in range(4):  # queued → development → review → testing → merge
                task = await (self.pipeline.approve(task.id, LENA) if task.stage == "queued"
                              else self.pipeline.advance(task.id, LENA))
            ids.append(task.id)
        return ids


@pytest.fixture
async def rig(database: Database, clock: ManualClock) -> AsyncIterator[Rig]:
    yield Rig(database, clock)


async def drain(courier: Courier, clock: ManualClock, rounds: int = 200) -> None:
    """Rounds until nothing is left, moving the clock only as far as the budget needs."""
    for _ in range(rounds):
        await courier.flush()
        if courier.idle:
            return
        clock.advance(max(courier.seconds_until_ready(), 0.01))
    raise AssertionError("the courier never finished")


async def test_a_burst_folds_into_a_digest_naming_each_task_and_its_action(rig: Rig) -> None:
    ids = await rig.needs_approval(12)
    await rig.pipeline.block(ids[0], LENA, "flaky")
    courier = rig.courier(per_minute=10)
    await courier.resume()
    await courier.flush()
    digests = [t for t in rig.sender.texts() if t.startswith("digest")]
    assert len(digests) == 1
    named = dict(part.split(":") for part in digests[0].removeprefix("digest ").split(", "))
    assert named["ORCH-1"] == "unblock"  # its latest news decides
    assert all(named[f"ORCH-{n}"] == "approve" for n in range(2, 13))
    assert not [t for t in rig.sender.texts() if t.startswith("push")]


async def test_two_pushes_are_sent_as_they_are(rig: Rig) -> None:
    await rig.needs_approval(2)
    courier = rig.courier()
    await courier.resume()
    await drain(courier, rig.clock)
    assert sorted(t for t in rig.sender.texts() if t.startswith("push")) == [
        "push ORCH-1 needs_approval", "push ORCH-2 needs_approval"]


async def test_the_budget_is_kept_across_a_restart(rig: Rig) -> None:
    courier = rig.courier(per_minute=5)
    await courier.resume()
    for n in range(5):
        await courier.say(f"reply {n}")
        rig.clock.advance(1.5)
        await courier.flush()
    assert len(rig.sender.calls) == 5
    restarted = rig.courier(per_minute=5)
    await restarted.resume()
    await restarted.say("after the restart")
    await restarted.flush()
    assert len(rig.sender.calls) == 5  # the minute is still spent
    assert restarted.seconds_until_ready() > 50
    rig.clock.advance(restarted.seconds_until_ready())
    await restarted.flush()
    assert rig.sender.texts()[-1] == "after the restart"


async def test_replies_keep_their_order_and_none_is_dropped(rig: Rig) -> None:
    courier = rig.courier(per_minute=4)
    await courier.resume()
    await rig.needs_approval(6)  # pushes compete for the same budget
    for n in range(10):
        await courier.say(f"reply {n}", reply_to=n + 1)
    rig.sender.script = [SendResult(SendOutcome.TRANSIENT, detail="502")]  # the first try fails
    await drain(courier, rig.clock)
    replies = [c for c in rig.sender.calls if c.text.startswith("reply")]
    assert [c.text for c in replies] == [f"reply {n}" for n in range(10)]
    assert courier.stats.retries == 1


async def test_a_push_whose_task_moved_on_loses_its_buttons_and_says_who(rig: Rig) -> None:
    [task_id] = await rig.needs_approval(1)
    await SqliteInbox(rig.db).put([{"update_id": 1, "message": {
        "from": {"id": 77, "first_name": "Lena"}}}], rig.clock.now())
    courier = rig.courier()
    await courier.resume()
    await drain(courier, rig.clock)
    push = next(c for c in rig.sender.calls if c.text.startswith("push"))
    assert push.markup is not None
    await rig.pipeline.approve(task_id, LENA)
    await drain(courier, rig.clock)
    retired = [c for c in rig.sender.calls if c.method == "edit"
               and c.message_id == push.message_id]
    assert [c.text for c in retired] == ["push ORCH-1 needs_approval / approved by Lena"]
    assert retired[0].markup is None
    await drain(courier, rig.clock)
    assert len([c for c in rig.sender.calls if c.message_id == push.message_id]) == 2


async def test_a_429_is_waited_out_counted_and_the_message_kept(rig: Rig) -> None:
    courier = rig.courier()
    await courier.resume()
    await courier.say("hello")
    rig.sender.script = [SendResult(SendOutcome.RETRY_AFTER, retry_after_s=7)]
    await courier.flush()
    assert courier.stats.retry_after_waits == 1 and rig.sender.texts() == []
    assert courier.seconds_until_ready() == pytest.approx(7)
    rig.clock.advance(7)
    await courier.flush()
    assert rig.sender.texts() == ["hello"]
    block = await courier.queue_block()
    assert "429 waits 1" in block.lines[0]


async def test_a_refused_message_is_given_up_and_counted(rig: Rig) -> None:
    courier = rig.courier()
    await courier.resume()
    await courier.say("<b>broken")
    await courier.say("fine")
    rig.sender.script = [SendResult(SendOutcome.REFUSED, detail="can't parse entities")]
    await drain(courier, rig.clock)
    assert rig.sender.texts() == ["fine"] and courier.stats.give_ups == 1


async def test_a_crash_inside_a_send_is_owned_up_to_and_sent_once_more(rig: Rig) -> None:
    courier = rig.courier()
    await courier.resume()
    await courier.say("maybe twice")
    rig.sender.script = [Killed()]
    with pytest.raises(Killed):
        await courier.flush()
    restarted = rig.courier()
    await restarted.resume()
    await drain(restarted, rig.clock)
    assert rig.sender.texts() == ["maybe twice", "maybe twice"]
    assert restarted.stats.maybe_twice == 1
    again = rig.courier()
    await again.resume()
    await drain(again, rig.clock)
    assert len(rig.sender.texts()) == 2 and again.stats.maybe_twice == 1


async def test_a_crash_after_a_send_repeats_nothing(rig: Rig) -> None:
    await rig.needs_approval(1)
    courier = rig.courier()
    await courier.resume()
    await drain(courier, rig.clock)
    sent = list(rig.sender.calls)
    restarted = rig.courier()
    await restarted.resume()
    await drain(restarted, rig.clock)
    assert rig.sender.calls == sent  # no push, no card again
    assert restarted.stats.maybe_twice == 0


async def test_a_restart_renders_only_cards_whose_task_changed(rig: Rig) -> None:
    ids = await rig.needs_approval(3)
    courier = rig.courier(per_minute=100)
    await courier.resume()
    await drain(courier, rig.clock)
    await rig.pipeline.approve(ids[1], LENA)
    restarted = rig.courier(per_minute=100)
    await restarted.resume()
    assert list(restarted._dirty) == [ids[1]]


async def test_the_dedup_guard_survives_a_restart(rig: Rig) -> None:
    [task_id] = await rig.needs_approval(1)
    await rig.pipeline.block(task_id, LENA, "one")
    courier = rig.courier()
    await courier.resume()
    await drain(courier, rig.clock)
    await rig.pipeline.unblock(task_id, LENA)
    await rig.pipeline.block(task_id, LENA, "two")
    restarted = rig.courier()
    await restarted.resume()
    await drain(restarted, rig.clock)
    assert sum(t.startswith("push ORCH-1 blocked") for t in rig.sender.texts()) == 2
    # a different news in between: both blocks are news; the guard only holds repeats
    outbox = SqliteOutbox(rig.db)
    assert (await outbox.marks())[task_id][0] == "blocked"


async def test_one_refusal_an_hour_per_outside_chat(rig: Rig, clock: ManualClock) -> None:
    courier = rig.courier()
    await courier.resume()
    said = [await courier.refuse(-5, "no") for _ in range(10)]
    clock.advance(timedelta(hours=1).total_seconds())
    said.append(await courier.refuse(-5, "no"))
    assert said == [True] + [False] * 9 + [True]
    await drain(courier, rig.clock)
    assert [(c.chat_id, c.text) for c in rig.sender.calls] == [(-5, "no"), (-5, "no")]
    assert RowKind.REFUSAL == "refusal"


async def test_a_week_later_settled_rows_are_forgotten_live_buttons_kept(rig: Rig) -> None:
    await rig.needs_approval(1)
    await rig.pipeline.create("api", "plain", LENA)
    courier = rig.courier()
    await courier.resume()
    await drain(courier, rig.clock)
    before = await rig.db.fetch_all("SELECT state, live_buttons FROM chat_outbox")
    rig.clock.advance(timedelta(days=8).total_seconds())
    await rig.courier().resume()
    after = await rig.db.fetch_all("SELECT state, live_buttons FROM chat_outbox")
    assert len(before) > 3 and [tuple(r) for r in after] == [("sent", 1)]
