"""Settings as people read them: `orch doctor`'s listing and docs/settings.md.

Secrets are never shown, only whether they are set; agent commands show the program
and how many arguments it takes, never the arguments (they may carry keys, and the run
log hides them too); remote URLs are hidden, as they may carry credentials.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field
from pathlib import PurePath
from typing import Any

from core.settings.declare import Setting, declared
from core.settings.document import AgentCommand, Leaf, schema_keys

Listing = list[tuple[str, list[tuple[str, str]]]]


def secrets_of(settings: Any) -> list[str]:
    """Every secret value the settings hold, for log redaction."""
    found = [str(getattr(settings, item.name)) for item, spec in declared(type(settings))
             if spec.secret and getattr(settings, item.name)]
    return found + [url for url in settings.repo_remotes.values() if url]


def listing(settings: Any) -> Listing:
    """(group, [(name, value as text)]) for every setting, secrets masked."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for item, spec in declared(type(settings)):
        value = getattr(settings, item.name)
        shown = shown_value(spec, value)
        if spec.required and value == _default(item):
            shown = "not set (required)"
        elif value == _default(item) and value not in ("", None, (), frozenset()):
            shown += " (default)"
        groups.setdefault(spec.group, []).append((spec.env, shown))
    file = settings.config_path or "none: the defaults below"
    groups[f"Pipeline (ORCH_CONFIG: {file})"] = list(_document_lines(settings))
    return list(groups.items())


def shown_value(spec: Setting, value: Any) -> str:
    """One setting's value as text: secrets as set/not set, empty as its default's name."""
    if spec.secret:
        return "set (hidden)" if value else "not set"
    if value is None or value == "" or value == () or value == frozenset():
        return spec.shown_default or "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset | tuple):
        return ", ".join(str(v) for v in sorted(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _document_lines(settings: Any) -> Iterator[tuple[str, str]]:
    yield "stages", " → ".join(_stage(spec) for spec in settings.pipeline.stages)
    agents: Mapping[str, AgentCommand] = settings.agents
    for role, agent in sorted(agents.items()):
        yield f"agents.{role}", agent_shown(agent)
    if not agents:
        yield "agents", "none (a stage with a role blocks its tasks)"
    for repo in sorted(settings.repo_remotes):
        yield f"repos.{repo}", "remote set (hidden)"
    for key, name in settings.plane_state_names.items():
        yield f"plane.states.{key}", repr(name)
    for key, value in sorted(settings.plane_options.items()):
        yield f"plane.{key}", _plain(value)


def agent_shown(agent: AgentCommand) -> str:
    """The program and the number of its arguments; never the arguments themselves."""
    program = PurePath(agent.command[0]).name
    count = len(agent.command) - 1
    args = f" + {count} argument{'s' if count != 1 else ''} (hidden)" if count else ""
    return f"{program}{args}, timeout {agent.timeout_s:g} s"


def _stage(spec: Any) -> str:
    extra = [f"role {spec.role}"] if spec.role else []
    extra += list(spec.gates)
    if spec.rollback_to:
        extra.append(f"↩ {spec.rollback_to}")
    return f"{spec.name} ({', '.join(extra)})" if extra else spec.name


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} = {v}" for k, v in value.items()) or "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _default(item: Field[Any]) -> Any:
    return None if item.default is MISSING else item.default


# --- docs/settings.md --------------------------------------------------------------------


def environment_table(settings_type: type) -> str:
    """The markdown table of every ORCH_* setting, grouped as declared."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    group = None
    for item, spec in declared(settings_type):
        if spec.group != group:
            group = spec.group
            rows.append(f"| **{group}** | | |")
        rows.append(f"| `{spec.env}` | {_default_text(spec, item)} | {_meaning(spec)} |")
    return "\n".join(rows)


def file_table() -> str:
    """The markdown table of every key the ORCH_CONFIG file may hold."""
    rows = ["| key | takes | meaning |", "| --- | --- | --- |"]
    for key, node in schema_keys():
        takes = node.expected if isinstance(node, Leaf) else f"`<{node.placeholder}> = …`"
        rows.append(f"| `{key}` | {takes} | {node.help} |")
    return "\n".join(rows)


def _default_text(spec: Setting, item: Field[Any]) -> str:
    if spec.required:
        return "required"
    shown = shown_value(Setting(spec.env, spec.kind, "", "", False, False, None, None, "",
                                spec.shown_default), _default(item))
    return shown if shown in (spec.shown_default, "not set") else f"`{shown}`"


def _meaning(spec: Setting) -> str:
    text = spec.help.replace("|", "\\|")
    if spec.low is not None or spec.high is not None:
        text += f"; {spec.takes}"
        if spec.why:
            text += f" ({spec.why})"
    if spec.secret:
        text += "; secret: never logged or shown"
    return text
