"""`orch demo` tells the truth in order: the same story on every run, times that never
go backwards, and the moments people need to see (a rollback, a close in Plane)."""

from __future__ import annotations

import re

import pytest

from sandbox.demo import run_demo

pytestmark = pytest.mark.e2e

TIME = re.compile(r"^\[(\d\d:\d\d)\] ")
# how long a reconcile tick took in wall time (the /queue line): a busy machine shows 0.1
TICK = re.compile(r" · \d+\.\d s · ")


async def demo_text(capsys: pytest.CaptureFixture[str]) -> list[str]:
    status = await run_demo()
    out = capsys.readouterr().out
    assert status == 0, out[-2000:]
    return out.rstrip("\n").splitlines()


def untimed(lines: list[str]) -> list[str]:
    # the summary line holds a duration
    return [TICK.sub(" · _ s · ", TIME.sub("", line)) for line in lines[:-1]]


def first(lines: list[str], pattern: str) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


async def test_the_demo_tells_the_same_story_in_time_order(
        capsys: pytest.CaptureFixture[str]) -> None:
    one = await demo_text(capsys)
    two = await demo_text(capsys)

    assert untimed(one) == untimed(two)
    times = [m.group(1) for line in one if (m := TIME.match(line))]
    assert len(times) > 50 and times == sorted(times)
    assert one[-2] == "Next: to run orch for your own team, follow docs/getting-started.md"
    assert one[-1].startswith("demo: ok")
    shows_what_happened_where_it_happened(one)


def shows_what_happened_where_it_happened(lines: list[str]) -> None:
    # a reply comes before the card it announces
    assert first(lines, r"Created ORCH-1 in api") < first(lines, r"orch: ⚪ ORCH-1 ·")
    # the failing test gate is seen: ORCH-4 goes back to development, then on to merge
    testing = first(lines, r"ORCH-4's card now: development ✓ → review ✓ → testing ●")
    back = first(lines, r"ORCH-4's card now: development ● .* tests failed: 1 failed")
    merge = first(lines, r"ORCH-4's card now: .*merge ● .* tests passed")
    assert testing < back < merge
    # an item closed in Plane while in development finished no stage
    closed = lines[first(lines, r"WEB-1's card now: .*moved to Done in Plane")]
    assert "✓" not in closed
    # the lesson is listed before it is closed, and the close is seen on its card
    assert first(lines, r"lead: /lessons") < first(lines, r"pressed \[Close\] on lesson #1")
    # Plane's items have titles of their own
    assert not re.search(r"WEB-\d .*(Add retry|Dark mode|Rotate the signing)", "\n".join(lines))
    # quotes around a title are the chat's, not the title's
    assert any("ORCH-2 · Dark mode toggle" in line for line in lines)
