"""The recorded refusals (4xx, 5xx, 429), the answers orch never asks for, and a check
that every recording in tests/fixtures/plane is exercised by one contract test or another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.errors import TrackerError, TrackerRateLimited, TrackerRejected, TrackerUnavailable
from core.integrations.plane.http import HttpRetryPolicy, PlaneHttp
from core.integrations.plane.parse import parse_page
from core.ratebudget import RateBudget
from tests.plane_support import FIXTURES, KEY, JumpClock, Rigs, recorded
from tests.unit.test_plane_contract import I2, ITEM_OBJECTS, LISTS, PID


@pytest.fixture
async def rigs() -> AsyncIterator[Rigs]:
    made = Rigs()
    yield made
    await made.aclose()


# -- errors -----------------------------------------------------------------------------

REJECTIONS = [
    (
        "03c_state_create_duplicate_name_409",
        409,
        "State with the same name already exists in the project",
    ),
    ("03d_state_create_invalid_group_400", 400, 'group: "doing" is not a valid choice.'),
    ("03e_state_create_triage_400", 400, "Cannot create triage state"),
    (
        "03f_state_create_dup_external_id_409",
        409,
        "State with the same external id and external source already exists",
    ),
    (
        "07d_issue_create_dup_external_409",
        409,
        "Issue with the same external id and external source already exists",
    ),
    ("07e_issue_create_bad_priority_400", 400, 'priority: "critical" is not a valid choice.'),
    ("07f_issue_create_missing_name_400", 400, "name: This field is required."),
    ("07g_issue_create_unknown_state_400", 400, "state: Invalid pk"),
    ("10n_work_items_list_per_page_too_big_400", 400, "Cannot exceed 1000"),
    ("10o_work_items_list_bad_cursor_400", 400, "Invalid cursor parameter."),
    ("11e_work_item_get_unknown_404", 404, "The requested resource does not exist."),
    ("12d_work_item_patch_bad_state_400", 400, "state: Invalid pk"),
    ("13d_relation_create_bad_type_400", 400, 'relation_type: "depends_on" is not a valid'),
    ("13h_relations_old_issues_path_404", 404, "Page not found."),
    ("17_auth_invalid_key_403", 403, "Given API token is not valid"),
    ("17b_auth_missing_key_401", 401, "Authentication credentials were not provided."),
    ("17c_wrong_workspace_slug", 403, "You do not have permission to perform this action."),
    ("21c_work_item_get_deleted_404", 404, "The requested resource does not exist."),
    ("22_state_delete_default_400", 400, "Default state cannot be deleted"),
    ("22b_state_delete_nonempty_400", 400, "only empty states can be deleted"),
]


@pytest.mark.parametrize(("name", "status", "message"), REJECTIONS)
async def test_4xx_is_rejected_at_once_with_the_servers_words(
    rigs: Rigs, name: str, status: int, message: str
) -> None:
    rig = rigs({r".": name})
    with pytest.raises(TrackerRejected) as caught:
        await rig.client.item(PID, I2)
    assert caught.value.status == status
    assert message in str(caught.value)
    assert rig.client.stats.calls == 1 and rig.client.stats.retries == 0
    assert rig.client.stats.last_error == str(caught.value)


async def test_a_500_is_retried_with_backoff_then_unavailable(
    rigs: Rigs,
) -> None:
    rig = rigs(
        {r".": "10p_work_items_list_bad_order_by"},
        HttpRetryPolicy(max_attempts=3, base_delay_s=1.0),
    )
    with pytest.raises(TrackerUnavailable, match="Something went wrong"):
        await rig.client.items_page(PID, order_by="nonsense")
    assert rig.client.stats.calls == 3 and rig.client.stats.retries == 2
    assert 0.5 <= rig.clock.slept[0] <= 1.0 and 1.0 <= rig.clock.slept[1] <= 2.0


async def test_a_429_is_waited_out_for_its_retry_after(rigs: Rigs) -> None:
    rig = rigs({r"states/$": ["18_rate_limited_429", "02_states_list"]})
    assert len(await rig.client.states(PID)) == 5
    assert rig.clock.slept == [43.0]
    assert rig.client.stats.rate_limit_waits == 1 and rig.client.stats.calls == 2


@pytest.mark.parametrize(
    ("name", "retry_after"), [("18_rate_limited_429", 43.0), ("20b_ratelimit_429", 58.0)]
)
async def test_a_429_past_patience_is_rate_limited(
    rigs: Rigs, name: str, retry_after: float
) -> None:
    rig = rigs({r".": name}, HttpRetryPolicy(max_rate_limit_waits=2))
    with pytest.raises(TrackerRateLimited) as caught:
        await rig.client.states(PID)
    assert caught.value.retry_after == retry_after
    assert rig.client.stats.calls == 3 and rig.clock.slept == [retry_after] * 2


async def test_the_last_ok_before_the_limit_shows_zero_remaining(
    rigs: Rigs,
) -> None:
    rig = rigs({r".": "20a_ratelimit_last_ok"})  # recorded without its body
    with pytest.raises(TrackerError, match="empty body"):
        await rig.client.states(PID)
    assert rig.client.stats.server_remaining == 0


# -- answers orch never asks for still pass the HTTP layer ------------------------------

UNUSED_ENVELOPES = ["06c_labels_list", "14d_comments_list", "15b_links_list", "16_activities_list"]
UNUSED_OTHERS = [
    "05_project_member_add",
    "05b_workspace_members_list",
    "05c_project_members_list",
    "05d_users_me",
    "06_label_create_bug",
    "06b_label_create_pipeline",
    "11f_work_item_search",
    "13_relation_create_blocked_by",
    "13b_relation_create_blocking",
    "13c_relation_create_relates_to",
    "14e_comment_patch",
    "15_link_create",
]
NO_CONTENT = ["21b_work_item_delete_204", "21d_comment_delete_204", "22c_state_delete_empty_204"]


@pytest.mark.parametrize("name", UNUSED_ENVELOPES + UNUSED_OTHERS + NO_CONTENT)
async def test_unused_answers_decode(name: str) -> None:
    clock = JumpClock()
    http = PlaneHttp(
        "http://plane.test",
        KEY,
        "acme",
        clock=clock,
        budget=RateBudget(clock),
        transport=httpx.MockTransport(lambda request: recorded(name)),
    )
    try:
        reply = await http.send("GET", "anything/")
    finally:
        await http.aclose()
    assert reply.status == recorded(name).status_code
    if name in NO_CONTENT:
        assert reply.body is None
    elif name in UNUSED_ENVELOPES:
        assert parse_page(reply.body, name).results


@pytest.mark.parametrize("name", ["11f_work_item_search", "13_relation_create_blocked_by"])
async def test_a_body_of_the_wrong_shape_is_a_tracker_error(rigs: Rigs, name: str) -> None:
    rig = rigs({r".": name})
    with pytest.raises(TrackerError, match="Plane sent"):
        await rig.client.items_page(PID)
    with pytest.raises(TrackerError, match="Plane sent"):
        await rig.client.relations(PID, I2)


def test_every_recorded_answer_is_covered() -> None:
    covered = {
        "00_projects_list_empty",
        "01c_projects_list",
        "01_project_create",
        "01b_project_get",
        "02_states_list",
        "04_states_list_after_create",
        "22d_states_list_final",
        "04b_states_list_per_page_2",
        "04c_states_list_per_page_2_page2",
        "03_state_create_in_review",
        "03b_state_create_blocked_with_external_id",
        "04d_state_get",
        "04e_state_patch",
        "10c_work_items_list_per_page_2",
        "10d_work_items_list_per_page_2_next",
        "10q_work_items_list_order_by_updated_at_asc",
        "12_work_item_patch_state_in_progress",
        "12b_work_item_patch_state_in_review_old_path",
        "12c_work_item_patch_done_priority_assignees",
        "12e_work_item_patch_name",
        "13e_relations_list_I2",
        "13f_relations_list_I1",
        "13g_relations_list_I3",
        "14_comment_create",
        "14b_comment_create_external",
        "14c_comment_create_dup_external_409",
        "10p_work_items_list_bad_order_by",
        "18_rate_limited_429",
        "20a_ratelimit_last_ok",
        "20b_ratelimit_429",
        *LISTS,
        *ITEM_OBJECTS,
        *(r[0] for r in REJECTIONS),
        *UNUSED_ENVELOPES,
        *UNUSED_OTHERS,
        *NO_CONTENT,
    }
    on_disk = {p.name.removesuffix(".headers.txt") for p in FIXTURES.glob("*.headers.txt")}
    assert on_disk - covered == set()
    assert covered - on_disk == set()
