"""The reconciler's pure rules: standing by group (D1), the decision table, the guard,
and the small helpers around them (HTML to text, the sync configuration)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from core.config import Settings
from core.errors import ConfigError
from core.integrations.plane.html_text import html_to_text
from core.sync.config import DEFAULT_STAGE_STATES, SyncConfig
from core.sync.rules import Standing, SyncAction, UnblockGuard, decide, standing_of
from core.sync.states_cache import ProjectStates
from core.tracker import StateGroup

G = StateGroup
STATES = ProjectStates(
    ids=MappingProxyType({"approved": "s-done", "blocked": "s-blocked", "done": "s-done",
                          "cancelled": "s-cancel"}),
    groups=MappingProxyType({"s-done": G.COMPLETED, "s-blocked": G.STARTED,
                             "s-cancel": G.CANCELLED, "s-todo": G.UNSTARTED}),
)


def test_the_group_decides_before_any_configured_key() -> None:
    assert standing_of(STATES, "s-done") is Standing.DONE  # although also "approved"
    assert standing_of(STATES, "s-cancel") is Standing.CANCELLED
    assert standing_of(STATES, "s-blocked") is Standing.BLOCKED
    assert standing_of(STATES, "s-todo") is Standing.OPEN


def test_the_logical_key_is_the_fallback_only_when_the_group_is_unknown() -> None:
    unknown = ProjectStates(ids=MappingProxyType({"done": "s-x", "cancelled": "s-y",
                                                  "approved": "s-z"}),
                            groups=MappingProxyType({}), fetched=False)
    assert standing_of(unknown, "s-x") is Standing.DONE
    assert standing_of(unknown, "s-y") is Standing.CANCELLED
    assert standing_of(unknown, "s-z") is Standing.APPROVED
    assert standing_of(unknown, "s-new") is Standing.OPEN


S = Standing


@pytest.mark.parametrize(
    ("now", "before", "changed", "echo", "stage", "expected"),
    [
        (S.DONE, None, True, False, None, SyncAction.SKIP_TERMINAL),
        (S.CANCELLED, None, True, False, None, SyncAction.SKIP_TERMINAL),
        (S.APPROVED, None, True, False, None, SyncAction.CREATE),
        (S.OPEN, None, True, False, None, SyncAction.NOTHING),
        (S.BLOCKED, None, True, False, None, SyncAction.NOTHING),
        (S.APPROVED, S.APPROVED, False, False, "development", SyncAction.NOTHING),
        (S.DONE, S.OPEN, True, False, "review", SyncAction.CLOSE),
        (S.DONE, S.DONE, False, False, "review", SyncAction.CLOSE),  # drift heals
        (S.DONE, S.OPEN, True, False, "done", SyncAction.NOTHING),
        (S.CANCELLED, S.OPEN, True, False, "blocked", SyncAction.CANCEL),
        (S.CANCELLED, S.OPEN, True, True, "cancelled", SyncAction.NOTHING),
        (S.BLOCKED, S.OPEN, True, False, "development", SyncAction.BLOCK),
        (S.BLOCKED, S.OPEN, True, False, "blocked", SyncAction.NOTHING),
        (S.BLOCKED, S.OPEN, True, True, "development", SyncAction.NOTHING),  # orch's own write
        (S.BLOCKED, S.BLOCKED, False, False, "development", SyncAction.NOTHING),
        (S.OPEN, S.BLOCKED, True, False, "blocked", SyncAction.UNBLOCK),
        (S.OPEN, S.BLOCKED, True, False, "development", SyncAction.NOTHING),
        (S.OPEN, S.BLOCKED, True, True, "blocked", SyncAction.NOTHING),
        (S.OPEN, S.OPEN, True, False, "blocked", SyncAction.NOTHING),  # blocked in orch stays
        (S.OPEN, S.OPEN, False, False, "development", SyncAction.NOTHING),
    ],
)
def test_the_decision_table(now: Standing, before: Standing | None, changed: bool,
                            echo: bool, stage: str | None, expected: SyncAction) -> None:
    assert decide(now, before=before, changed=changed, echo=echo, task_stage=stage) is expected


def test_the_guard_admits_an_unblock_once_per_state_until_seen_blocked() -> None:
    guard = UnblockGuard()
    assert guard.admit("i-1", "s-progress")
    assert not guard.admit("i-1", "s-progress")
    assert guard.admit("i-1", "s-review")  # a different state is news
    assert guard.admit("i-2", "s-progress")
    guard.seen_blocked("i-1")
    assert guard.admit("i-1", "s-review")
    assert guard.deduped_total == 1


def test_html_becomes_the_text_a_person_reads() -> None:
    html = ("<h2>Goal</h2><p>Retry the <b>webhook</b> sender&nbsp;&amp; log.</p>"
            "<ul><li>once</li><li>twice</li></ul><script>alert(1)</script><p></p>")
    assert html_to_text(html) == "Goal\n\nRetry the webhook sender & log.\n\n- once\n- twice"
    assert html_to_text("<p></p>") == ""
    assert html_to_text("plain") == "plain"


def test_sync_config_reads_repos_writeback_and_start() -> None:
    settings = Settings(plane_projects=("ORCH",), plane_resync_interval_s=600.0)
    document = {"plane": {"repos": {"ORCH": "api"}, "writeback": {"merge": "in_progress"},
                          "start_approved": False}}
    config = SyncConfig.from_settings(settings, document)
    assert config.repo_for("ORCH") == "api" and config.repo_for("WEB") == "web"
    assert config.stage_states["merge"] == "in_progress"
    assert config.stage_states["review"] == DEFAULT_STAGE_STATES["review"]
    assert not config.start_approved and config.resync_interval_s == 600.0
    assert config.follows("p-1", "ORCH") and not config.follows("p-2", "WEB")
    assert SyncConfig().follows("p-2", "WEB")  # no list: every visible project


@pytest.mark.parametrize("document", [
    {"plane": {"writeback": {"merge": "shipping"}}},
    {"plane": {"repos": {"ORCH": 3}}},
    {"plane": {"start_approved": "yes"}},
    {"plane": "nope"},
])
def test_sync_config_refuses_what_it_cannot_use(document: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SyncConfig.from_settings(Settings(), document)
