"""The start-up checks: everything `orch run` and `orch doctor` refuse before starting.

`load(environ)` reads the settings (unknown, malformed and out-of-range values are
refused there) and then checks what no single setting can: groups of settings that
only work together, and every cross-reference of the ORCH_CONFIG file — gate names,
roles, stage names, state keys, projects and repos. The first problem is raised as a
ConfigError whose one line names the setting or the file's key, with a "did you mean".

`gaps(settings)` is the softer list `orch doctor` prints after: what a working team
still lacks (nobody may approve, no agent for a role), one line each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.config import Settings
from core.errors import ConfigError, ConfigFileError
from core.jobs.gates import FORGE_GATES, QG_CHECKS
from core.pipeline.stages import BLOCKED, CANCELLED
from core.settings.declare import declared, did_you_mean
from core.settings.document import DEFAULT_STATE_NAMES
from core.sync.config import SyncConfig
from core.tracker import TrackerProject

# Settings that only work together: one set without the others is refused.
TOGETHER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Plane", ("ORCH_PLANE_API_URL", "ORCH_PLANE_API_TOKEN", "ORCH_PLANE_WORKSPACE_SLUG")),
    ("Gitea", ("ORCH_GITEA_URL", "ORCH_GITEA_TOKEN")),
)


def load(environ: Mapping[str, str], *, require_telegram: bool = True) -> Settings:
    """Settings from the environment and ORCH_CONFIG, with every start-up check passed."""
    settings = Settings.from_env(environ, require_telegram=require_telegram)
    validate(settings)
    return settings


def missing_required(settings: Settings) -> list[str]:
    """The ORCH_* names of required settings left empty (`orch doctor` names them all)."""
    return [spec.env for item, spec in declared(Settings)
            if spec.required and getattr(settings, item.name) == item.default]


def validate(settings: Settings) -> None:
    """ConfigError for the first setting that cannot work with the others."""
    _check_together(settings)
    if settings.telegram_webhook_url and not settings.http_port:
        raise ConfigError("ORCH_HTTP_PORT", "is required with ORCH_TELEGRAM_WEBHOOK_URL "
                          "(Telegram's updates arrive on orch's HTTP server)")
    source = settings.config_path or "ORCH_CONFIG"
    _check_gates(settings, source)
    _check_roles(settings, source)
    _check_plane_document(settings, source)
    config = SyncConfig.from_settings(settings)
    # the followed projects named in the settings: checked here, the rest at start-up
    config.check_key_prefix(settings.task_key_prefix, [
        TrackerProject(name, name, name) for name in settings.plane_projects])


def gaps(settings: Settings) -> list[str]:
    """What a working team still lacks, one line each (not fatal: orch runs without)."""
    found = []
    if not settings.approvers:
        found.append("ORCH_APPROVERS: nobody may approve, unblock or cancel; set the user "
                     "ids of the people who may (send /whoami in the group to see yours)")
    if settings.jobs_enabled:
        for role in _roles(settings):
            if role not in settings.agents:
                found.append(f"agents.{role}: no command for the {role} role; tasks that "
                             f"reach its stage are blocked (see docs/agents.md)")
    if settings.plane_api_url and settings.plane_webhook_secret and not settings.http_port:
        found.append("ORCH_PLANE_WEBHOOK_SECRET is set but ORCH_HTTP_PORT is not: "
                     "nothing listens for Plane's webhook")
    if settings.gitea_url and settings.gitea_webhook_secret and not settings.http_port:
        found.append("ORCH_GITEA_WEBHOOK_SECRET is set but ORCH_HTTP_PORT is not: "
                     "nothing listens for Gitea's webhook")
    if settings.api_token and not settings.http_port:
        found.append("ORCH_API_TOKEN is set but ORCH_HTTP_PORT is not: the API is not served")
    return found


def _check_together(settings: Settings) -> None:
    env_of = {spec.env: item.name for item, spec in declared(Settings)}
    for name, members in TOGETHER:
        present = [env for env in members if getattr(settings, env_of[env])]
        if present and len(present) < len(members):
            missing = [env for env in members if env not in present]
            raise ConfigError(missing[0], f"is required with {', '.join(present)} "
                              f"({name} needs {', '.join(members)})")


def _check_gates(settings: Settings, source: str) -> None:
    for spec in settings.pipeline.stages:
        for gate in spec.gates:
            if gate in FORGE_GATES:
                if not (settings.gitea_url and settings.gitea_token):
                    raise ConfigFileError(source, f"pipeline stage '{spec.name}'",
                                          f"names gate '{gate}', which needs a forge "
                                          "(ORCH_GITEA_URL and ORCH_GITEA_TOKEN)")
                continue
            if gate not in QG_CHECKS:
                raise ConfigFileError(source, f"pipeline stage '{spec.name}'",
                                      f"names unknown gate '{gate}'"
                                      + _suggest(gate, QG_CHECKS))


def _check_roles(settings: Settings, source: str) -> None:
    roles = _roles(settings)
    for role in settings.agents:
        if role not in roles:
            raise ConfigFileError(source, f"[agents.{role}]",
                                  "is a role no stage has" + _suggest(role, roles))


def _check_plane_document(settings: Settings, source: str) -> None:
    for key in settings.plane_state_names:
        if key not in DEFAULT_STATE_NAMES:
            raise ConfigFileError(source, f"plane.states.{key}",
                                  "is not a state orch uses" + _suggest(key, DEFAULT_STATE_NAMES))
    options = settings.plane_options
    stages = (*settings.pipeline.order, BLOCKED, CANCELLED)
    for stage, state in _table(options.get("writeback")).items():
        if stage not in stages:
            raise ConfigFileError(source, f"plane.writeback.{stage}",
                                  "is not a stage of the pipeline" + _suggest(stage, stages))
        if state not in DEFAULT_STATE_NAMES:
            raise ConfigFileError(source, f"plane.writeback.{stage}",
                                  f"names '{state}', not a state key"
                                  + _suggest(state, DEFAULT_STATE_NAMES))
    repos = _table(options.get("repos"))
    for project, repo in repos.items():
        if settings.plane_projects and project not in settings.plane_projects:
            raise ConfigFileError(source, f"plane.repos.{project}",
                                  "is not in ORCH_PLANE_PROJECTS"
                                  + _suggest(project, settings.plane_projects))
        if settings.repo_remotes and repo not in settings.repo_remotes:
            raise ConfigFileError(source, f"plane.repos.{project}",
                                  f"names repo '{repo}', which is not in [repos]"
                                  + _suggest(repo, settings.repo_remotes))


def _roles(settings: Settings) -> list[str]:
    return [spec.role for spec in settings.pipeline.stages if spec.role]


def _table(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def _suggest(word: str, choices: Iterable[str]) -> str:
    return did_you_mean(word, choices) or f" (known: {', '.join(sorted(choices))})"
