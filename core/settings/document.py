"""The ORCH_CONFIG file: its schema, declared once, and the strict reader built on it.

`SCHEMA` names every table and key the file may hold, with one line of help each (the
docs' table of the file is generated from it). `read_document` refuses anything else:
an unknown table or key is named with its file and a "did you mean", a value of the
wrong kind with what it should be. Only then is the document turned into Settings
fields. Cross-references (gates, roles, stages, repos) are checked in `checks`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError, ConfigFileError
from core.pipeline.stages import DONE, QUEUED, Pipeline, StageSpec
from core.settings.declare import did_you_mean


@dataclass(frozen=True, slots=True)
class AgentCommand:
    """How a role's work is done: a command template run in the task's worktree."""

    command: tuple[str, ...]
    timeout_s: float = 1800.0
    transient_exit_code: int = 75
    # names of orch's environment variables this agent may see besides PATH, HOME, LANG
    env: tuple[str, ...] = ()
    stall_timeout_s: float = 300.0  # no output for this long: stopped and retried; 0 off


DEFAULT_STATE_NAMES: Mapping[str, str] = {
    "approved": "Approved",
    "in_progress": "In Progress",
    "in_review": "In Review",
    "blocked": "Blocked",
    "done": "Done",
    "cancelled": "Cancelled",
}


# --- the schema -----------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """A value: `ok` says whether it is acceptable, `expected` what it should be."""

    expected: str
    ok: Callable[[Any], bool]
    help: str = ""


@dataclass(frozen=True)
class Table:
    """A table with a fixed set of keys; any other key is refused."""

    keys: Mapping[str, Node]
    help: str = ""
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Each:
    """A table whose keys people choose (a role, a repo); every value is one `of`."""

    of: Node
    placeholder: str
    help: str = ""


@dataclass(frozen=True)
class Rows:
    """An array of tables, each one `of`."""

    of: Table
    help: str = ""


Node = Leaf | Table | Each | Rows


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(_is_text(v) for v in value)


def _is_command(value: Any) -> bool:
    return _is_text(value) or (_is_texts(value) and bool(value))


def _is_positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _is_number_at_least(low: float) -> Callable[[Any], bool]:
    return lambda v: type(v) in (int, float) and v >= low


def _is_share(value: Any) -> bool:
    return type(value) in (int, float) and 0 <= value <= 1


def _is_seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


TEXT = Leaf("a non-empty string", _is_text)
STAGE = Table({
    "name": Leaf("a simple word", lambda v: isinstance(v, str) and v.isidentifier(),
                 "the stage's name"),
    "role": Leaf("a role name", _is_text, "the agent role that works in it (see [agents])"),
    "gates": Leaf("a list of gate names", _is_texts,
                  "checks to pass on leaving it: tests_passed, coverage, review_approved, "
                  "human_approval; with a forge also merged, ci_green, branch_mergeable"),
    "rollback_to": Leaf("an earlier stage's name", _is_text,
                        "where a failed gate sends the task"),
}, required=("name",))
AGENT = Table({
    "command": Leaf("a list of strings", _is_command,
                    "the command run in the task's worktree; placeholders like {prompt_file}"),
    "timeout_s": Leaf("seconds > 0", _is_positive, "the run is killed after this long"),
    "transient_exit_code": Leaf("an integer", lambda v: type(v) is int,
                                "an exit status meaning 'try again later' (75)"),
    "env": Leaf("a list of variable names", lambda v: isinstance(v, list) and all(
                    isinstance(n, str) and n.replace("_", "a").isalnum() and n.isascii()
                    and not n[:1].isdigit() for n in v),
                "more of orch's environment variables this agent may see"),
    "stall_timeout_s": Leaf("seconds >= 0", _is_seconds,
                            "no output (nor heartbeat) for this long: stopped and retried "
                            "(300; 0 off)"),
}, required=("command",))
RUNS_AT_ONCE = Leaf("an integer >= 0", _is_count)

SCHEMA = Table({
    "pipeline": Table({"stages": Rows(STAGE, "the stages in order; queued and done are "
                                             "added at the ends")}),
    "agents": Each(AGENT, "role", "how each role's work is done"),
    "budget": Table({
        "tokens": Leaf("an integer > 0", lambda v: type(v) is int and v > 0,
                       "a task whose runs used more tokens than this is blocked"),
        "cost": Leaf("a number > 0", _is_positive,
                     "a task whose runs cost more than this (as reported) is blocked"),
    }),
    "concurrency": Table({
        "stages": Each(RUNS_AT_ONCE, "stage", "agent runs at once in a stage (0 pauses it)"),
        "roles": Each(RUNS_AT_ONCE, "role", "agent runs at once of a role (0 pauses it)"),
    }),
    "repos": Each(Leaf("a remote URL", _is_text), "repo",
                  "the git remote of each repo; a repo without one is a local repository"),
    "forge": Table({
        "repos": Each(Leaf("owner/name", lambda v: isinstance(v, str) and v.count("/") == 1
                           and all(v.split("/"))), "repo",
                      "the Gitea repository of each repo (default: its remote URL's path)"),
    }),
    "plane": Table({
        "start_approved": Leaf("true or false", lambda v: isinstance(v, bool),
                               "an item approved in Plane starts work, as Approve does"),
        "states": Each(TEXT, "key", "the Plane state name of each logical state"),
        "repos": Each(TEXT, "PROJECT", "the repo a Plane project's tasks work in"),
        "writeback": Each(TEXT, "stage", "the logical state a stage is shown as in Plane"),
        "missing_confirm_after_min": Leaf(
            "minutes >= 0", _is_number_at_least(0),
            "an item absent and 404 on two full resyncs this far apart is deleted (30)"),
        "mass_missing_share": Leaf(
            "a share from 0 to 1", _is_share,
            "more than this share of a project's items gone at once pauses its sync (0.5)"),
        "mass_missing_min": Leaf(
            "an integer >= 1", lambda v: type(v) is int and v >= 1,
            "... and at least this many items (3)"),
        "cancelled_releases": Leaf(
            "true or false", lambda v: isinstance(v, bool),
            "a blocker cancelled in Plane releases the tasks waiting for it (true)"),
        "rate_margin": Leaf(
            "a share from 0 to 0.9", lambda v: _is_share(v) and v <= 0.9,
            "the share of Plane's rate limit orch leaves unused (0.1)"),
        "max_retry_after_s": Leaf(
            "seconds >= 0", _is_number_at_least(0),
            "a longer Retry-After pauses the sync, said in /queue, instead of waiting (120)"),
        "max_pages": Leaf(
            "an integer >= 1", lambda v: type(v) is int and v >= 1,
            "a listing longer than this many pages is broken: the tick ends (200)"),
    }),
})


def schema_keys(node: Node = SCHEMA, path: str = "") -> Iterator[tuple[str, Leaf | Each]]:
    """(dotted key, node) of every documented key of the file, in declaration order."""
    if isinstance(node, Table):
        for name, child in node.keys.items():
            yield from schema_keys(child, f"{path}.{name}" if path else name)
    elif isinstance(node, Rows):
        yield from schema_keys(node.of, f"{path}[]")
    elif isinstance(node, Each) and isinstance(node.of, Table):
        yield from schema_keys(node.of, f"{path}.<{node.placeholder}>")
    else:
        yield path, node


# --- the strict reader -----------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; ConfigError naming ORCH_CONFIG when it cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("ORCH_CONFIG", f"no such file {path}") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("ORCH_CONFIG", f"a readable TOML file ({exc})") from exc
    return data


def check(node: Node, value: Any, path: str, source: str) -> None:
    """ConfigFileError for the first part of `value` that `node` does not allow."""
    if isinstance(node, Leaf):
        if not node.ok(value):
            raise ConfigFileError(source, path, f"expected {node.expected}")
    elif not isinstance(node, Rows) and not isinstance(value, dict):
        raise ConfigFileError(source, path, "expected a table")
    elif isinstance(node, Table):
        for key in node.required:
            if key not in value:
                raise ConfigFileError(source, f"{path}.{key}" if path else key, "is required")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key not in node.keys:
                raise ConfigFileError(source, _shown(where, item),
                                      "is unknown" + _suggest_key(key, path, item, node))
            check(node.keys[key], item, where, source)
    elif isinstance(node, Each):
        for key, item in value.items():
            check(node.of, item, f"{path}.{key}", source)
    else:
        if not isinstance(value, list) or not value:
            raise ConfigFileError(source, path, "expected a non-empty list of tables")
        for index, item in enumerate(value):
            check(node.of, item, f"{path}[{index}]", source)


def _suggest_key(key: str, path: str, value: Any, node: Table) -> str:
    return did_you_mean(key, node.keys, lambda k: _shown(f"{path}.{k}" if path else k, value))


def _shown(key: str, value: Any) -> str:
    return f"[{key}]" if isinstance(value, dict) else key


# --- interpretation ----------------------------------------------------------------------


def parse_config_document(data: Mapping[str, Any], source: str = "ORCH_CONFIG",
                          ) -> dict[str, Any]:
    """Turn a checked ORCH_CONFIG document into Settings fields."""
    check(SCHEMA, data, "", source)
    result: dict[str, Any] = {}
    if "pipeline" in data:
        result["pipeline"] = _pipeline_from(data["pipeline"].get("stages"), source)
    if "agents" in data:
        result["agents"] = {role: _agent_from(spec) for role, spec in data["agents"].items()}
    if "repos" in data:
        result["repo_remotes"] = dict(data["repos"])
    if "repos" in data.get("forge", {}):
        result["forge_repos"] = dict(data["forge"]["repos"])
    if "budget" in data:
        result["budget_tokens"] = data["budget"].get("tokens")
        result["budget_cost"] = data["budget"].get("cost")
    if "concurrency" in data:
        result["stage_concurrency"] = dict(data["concurrency"].get("stages", {}))
        result["role_concurrency"] = dict(data["concurrency"].get("roles", {}))
    plane = data.get("plane", {})
    if "plane" in data:
        result["plane_options"] = {k: v for k, v in plane.items() if k != "states"}
    if "states" in plane:
        result["plane_state_names"] = {**DEFAULT_STATE_NAMES, **plane["states"]}
    return result


def _pipeline_from(rows: Any, source: str) -> Pipeline:
    if not rows:
        raise ConfigFileError(source, "pipeline.stages", "expected a non-empty list of tables")
    specs = [StageSpec(row["name"], role=row.get("role"), gates=tuple(row.get("gates", ())),
                       rollback_to=row.get("rollback_to")) for row in rows]
    names = [spec.name for spec in specs]
    for index, spec in enumerate(specs):
        earlier = [QUEUED, *names[:index]]
        if spec.rollback_to is not None and spec.rollback_to not in earlier:
            raise ConfigFileError(source, f"pipeline.stages[{index}].rollback_to",
                                  f"names '{spec.rollback_to}', not an earlier stage"
                                  + (did_you_mean(spec.rollback_to, earlier)
                                     or f" (earlier: {', '.join(earlier)})"))
    if specs[0].name != QUEUED:
        specs.insert(0, StageSpec(QUEUED))
    if specs[-1].name != DONE:
        specs.append(StageSpec(DONE))
    try:
        return Pipeline(tuple(specs))
    except ValueError as exc:
        raise ConfigFileError(source, "pipeline.stages", str(exc)) from exc


def _agent_from(table: Mapping[str, Any]) -> AgentCommand:
    command = table["command"]
    argv = tuple(command.split() if isinstance(command, str) else command)
    return AgentCommand(argv, float(table.get("timeout_s", 1800)),
                        table.get("transient_exit_code", 75), tuple(table.get("env", ())),
                        float(table.get("stall_timeout_s", 300)))
