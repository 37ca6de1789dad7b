"""PlaneClient against every response recorded from a real Plane (tests/fixtures/plane).

Each recorded answer is served through httpx.MockTransport to the client call that would
receive it; answers orch never asks for are still pushed through the HTTP layer, so a
change in any recorded shape shows up here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.integrations.plane.parse import parse_state
from core.tracker import Relations, StateGroup, iter_items
from tests.plane_support import KEY, Rigs, recorded

PID = "194938ae-af55-47b7-b5d1-aff050418197"
I1 = "c247eb42-150d-4773-b38c-a3c9d76d3223"
I2 = "ee8349bc-df7e-4ce2-a639-7f4e0c43779a"
I3 = "26f3dec1-2e97-4b8e-a72a-bebe8edeaaff"
PROJECT = r"projects/[^/]+/$"


@pytest.fixture
async def rigs() -> AsyncIterator[Rigs]:
    made = Rigs()
    yield made
    await made.aclose()


# -- projects and states ---------------------------------------------------------------


async def test_an_empty_project_list(rigs: Rigs) -> None:
    rig = rigs({r"projects/$": "00_projects_list_empty"})
    assert await rig.client.projects() == []


async def test_the_project_list(rigs: Rigs) -> None:
    rig = rigs({r"projects/$": "01c_projects_list"})
    [project] = await rig.client.projects()
    assert (project.id, project.identifier, project.name) == (PID, "ORCH", "Orchestrator")


@pytest.mark.parametrize("name", ["01_project_create", "01b_project_get"])
async def test_a_project_object_gives_the_key_prefix(rigs: Rigs, name: str) -> None:
    rig = rigs({PROJECT: name, r"work-items/[^/]+/$": "11_work_item_get"})
    item = await rig.client.item(PID, I2)
    assert item.key == "ORCH-2"


@pytest.mark.parametrize(
    ("name", "count"),
    [("02_states_list", 5), ("04_states_list_after_create", 7), ("22d_states_list_final", 6)],
)
async def test_state_lists(rigs: Rigs, name: str, count: int) -> None:
    rig = rigs({r"states/$": name})
    states = await rig.client.states(PID)
    assert len(states) == count
    by_name = {s.name: s.group for s in states}
    assert by_name["Done"] is StateGroup.COMPLETED
    assert by_name["Backlog"] is StateGroup.BACKLOG


async def test_states_follow_next_cursor_across_pages(rigs: Rigs) -> None:
    pages = ["04b_states_list_per_page_2", "04c_states_list_per_page_2_page2", "02_states_list"]
    rig = rigs({r"states/$": pages})
    states = await rig.client.states(PID)
    assert [s.name for s in states[:4]] == ["Backlog", "Todo", "In Progress", "Done"]
    assert rig.plane.cursors() == [None, "2:1:0", "2:2:0"]


@pytest.mark.parametrize(
    ("name", "state_name", "group"),
    [
        ("03_state_create_in_review", "In Review", StateGroup.STARTED),
        ("03b_state_create_blocked_with_external_id", "Blocked", None),
        ("04d_state_get", "In Review", StateGroup.STARTED),
        ("04e_state_patch", "In Review", StateGroup.STARTED),
    ],
)
def test_single_state_objects(name: str, state_name: str, group: StateGroup | None) -> None:
    state = parse_state(recorded(name).json())
    assert state is not None and state.name == state_name
    assert group is None or state.group is group


# -- work items ------------------------------------------------------------------------

LISTS = [
    "10_issues_list_default",
    "10b_work_items_list_default",
    "10e_work_items_list_order_updated_at_desc",
    "10f_work_items_list_order_sequence_id",
    "10g_work_items_list_order_priority",
    "10h_work_items_list_order_state_group",
    "10i_work_items_list_updated_at_gt_filter_IGNORED",
    "10j_work_items_list_state_filter_IGNORED",
    "10k_work_items_list_expand_state_assignees_labels_project",
    "10l_work_items_list_fields_subset",
    "23_work_items_list_final",
]


@pytest.mark.parametrize("name", LISTS)
async def test_item_lists(rigs: Rigs, name: str) -> None:
    rig = rigs({r"work-items/$": name, PROJECT: "01b_project_get"})
    page = await rig.client.items_page(PID)
    assert page.next_cursor is None
    assert sorted(item.key for item in page.items) == ["ORCH-1", "ORCH-2", "ORCH-3"]
    assert {item.project_id for item in page.items} == {PID}
    deploy = next(item for item in page.items if item.id == I2)
    assert deploy.name == "Implement deploy step"
    assert deploy.updated_at.tzinfo is not None


async def test_the_list_asks_only_for_needed_fields_newest_change_first(
    rigs: Rigs,
) -> None:
    rig = rigs({r"work-items/$": "10l_work_items_list_fields_subset", PROJECT: "01b_project_get"})
    await rig.client.items_page(PID, per_page=50)
    params = rig.plane.requests[0].url.params
    assert params["order_by"] == "-updated_at"
    assert params["per_page"] == "50"
    assert set(params["fields"].split(",")) >= {"id", "sequence_id", "state", "updated_at"}
    assert rig.plane.requests[0].headers["X-API-Key"] == KEY


async def test_item_pages_are_walked_by_cursor(rigs: Rigs) -> None:
    pages = ["10c_work_items_list_per_page_2", "10d_work_items_list_per_page_2_next"]
    rig = rigs({r"work-items/$": pages, PROJECT: "01b_project_get"})
    keys = [item.key async for item in iter_items(rig.client, PID, per_page=2)]
    assert keys == ["ORCH-3", "ORCH-2", "ORCH-1"]
    assert rig.plane.cursors()[0] is None and "2:1:0" in rig.plane.cursors()


async def test_a_page_that_has_more(rigs: Rigs) -> None:
    rig = rigs(
        {r"work-items/$": "10q_work_items_list_order_by_updated_at_asc", PROJECT: "01b_project_get"}
    )
    page = await rig.client.items_page(PID, per_page=2, order_by="updated_at")
    assert [i.key for i in page.items] == ["ORCH-1", "ORCH-2"]
    assert page.next_cursor == "2:1:0"


ITEM_OBJECTS = [
    "07_issue_create_minimal_old_path",
    "07b_issue_create_full",
    "07c_issue_create_third",
    "10m_work_items_list_by_external_id",
    "11_work_item_get",
    "11b_work_item_get_expand",
    "11c_work_item_get_by_identifier",
    "11d_issue_get_by_identifier_old_path",
    "19_work_item_get_after_relations_comments",
    "21_work_item_create_to_delete",
]


@pytest.mark.parametrize("name", ITEM_OBJECTS)
async def test_item_objects(rigs: Rigs, name: str) -> None:
    rig = rigs({r"work-items/[^/]+/$": name, PROJECT: "01b_project_get"})
    body = recorded(name).json()
    item = await rig.client.item(PID, body["id"])
    assert (item.id, item.key, item.name) == (
        body["id"],
        f"ORCH-{body['sequence_id']}",
        body["name"],
    )
    assert item.state_id == (
        body["state"]["id"] if isinstance(body["state"], dict) else body["state"]
    )


async def test_an_item_by_key_uses_the_workspace_path(rigs: Rigs) -> None:
    rig = rigs(
        {r"^work-items/ORCH-2/$": "11c_work_item_get_by_identifier", PROJECT: "01b_project_get"}
    )
    item = await rig.client.item(PID, "ORCH-2")
    assert item.id == I2
    assert rig.plane.requests[0].url.path.endswith("/workspaces/acme/work-items/ORCH-2/")


@pytest.mark.parametrize(
    "name",
    [
        "12_work_item_patch_state_in_progress",
        "12b_work_item_patch_state_in_review_old_path",
        "12c_work_item_patch_done_priority_assignees",
        "12e_work_item_patch_name",
    ],
)
async def test_set_state_accepts_the_patch_answer(rigs: Rigs, name: str) -> None:
    rig = rigs({r"work-items/[^/]+/$": name, PROJECT: "01b_project_get"})
    await rig.client.set_state(PID, I2, "69b51fd1-d389-4ecf-97bf-303604ce7c86")
    sent = rig.plane.requests[0]
    assert sent.method == "PATCH"
    assert sent.content == b'{"state":"69b51fd1-d389-4ecf-97bf-303604ce7c86"}'


# -- relations and comments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("13e_relations_list_I2", Relations(blocked_by=(I1,), blocking=(I3,))),
        ("13f_relations_list_I1", Relations(blocked_by=(), blocking=(I2,))),
        ("13g_relations_list_I3", Relations(blocked_by=(I2,), blocking=())),
    ],
)
async def test_relations(rigs: Rigs, name: str, expected: Relations) -> None:
    rig = rigs({r"relations/$": name})
    assert await rig.client.relations(PID, I2) == expected


@pytest.mark.parametrize(
    ("name", "comment_id"),
    [
        ("14_comment_create", "b127cb6c-c2b7-4770-857a-746e95848b5a"),
        ("14b_comment_create_external", "a38f7ba7-f461-4ec0-bb63-ae6a76782e93"),
        ("14c_comment_create_dup_external_409", "a38f7ba7-f461-4ec0-bb63-ae6a76782e93"),
    ],
)
async def test_comments_are_idempotent(rigs: Rigs, name: str, comment_id: str) -> None:
    rig = rigs({r"comments/$": name})
    assert await rig.client.comment(PID, I2, "<p>Pipeline run #17 passed</p>", "run-17") == (
        comment_id
    )
    sent = rig.plane.requests[0]
    assert b'"external_id":"run-17"' in sent.content
    assert b'"external_source":"orch"' in sent.content
