"""Settings: one frozen object read once from `ORCH_*` and an optional TOML file.

`Settings.from_env(environ)` is the only reader of the environment; tests build
`Settings(...)` directly. A missing or malformed setting raises ConfigError naming it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from core.errors import ConfigError
from core.pipeline.stages import DEFAULT_STAGES, DONE, QUEUED, Pipeline, StageSpec

T = TypeVar("T")

SECRET_FIELDS = frozenset(
    {"telegram_token", "plane_api_token", "plane_webhook_secret", "gitea_token", "api_token",
     "repo_remotes"}  # remote URLs may carry credentials
)

DEFAULT_STATE_NAMES: Mapping[str, str] = {
    "approved": "Approved",
    "in_progress": "In Progress",
    "in_review": "In Review",
    "blocked": "Blocked",
    "done": "Done",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True, slots=True)
class AgentCommand:
    """How a role's work is done: a command template run in the task's worktree."""

    command: tuple[str, ...]
    timeout_s: float = 1800.0
    transient_exit_code: int = 75
    stall_timeout_s: float = 300.0  # no output for this long: stopped and retried; 0 off


@dataclass(frozen=True)
class Settings:
    """Everything orch is configured with. Frozen: nothing changes it at run time."""

    telegram_token: str = ""
    telegram_chat_id: int = 0
    approvers: frozenset[int] = frozenset()
    telegram_api_url: str = "https://api.telegram.org/bot"
    db_path: str = "orch.db"
    task_key_prefix: str = "ORCH"
    http_port: int | None = None
    api_token: str = ""
    # Plane
    plane_api_url: str = ""
    plane_api_token: str = ""
    plane_workspace_slug: str = ""
    plane_projects: tuple[str, ...] = ()
    plane_states_ttl_s: float = 300.0
    plane_rate_limit_per_min: int = 60
    plane_resync_interval_s: float = 3600.0
    plane_webhook_secret: str = ""
    plane_state_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATE_NAMES))
    # the rest of ORCH_CONFIG's [plane] table (repos, writeback, start_approved), read
    # here once and interpreted by core.sync.config
    plane_options: Mapping[str, Any] = field(default_factory=dict)
    reconcile_interval_s: float = 120.0
    # Gitea
    gitea_url: str = ""
    gitea_token: str = ""
    # Pipeline work
    pipeline: Pipeline = field(default_factory=lambda: Pipeline(DEFAULT_STAGES))
    agents: Mapping[str, AgentCommand] = field(default_factory=dict)
    repos_dir: str = "repos"
    # repo name → git remote URL (ORCH_CONFIG [repos]); a repo without one gets a local
    # repository under repos_dir, which is what the sandbox uses
    repo_remotes: Mapping[str, str] = field(default_factory=dict)
    max_concurrency: int = 2
    per_repo_concurrency: int | None = None
    # ORCH_CONFIG [concurrency.stages] / [concurrency.roles]: name → agent runs at once
    stage_concurrency: Mapping[str, int] = field(default_factory=dict)
    role_concurrency: Mapping[str, int] = field(default_factory=dict)
    transient_max_attempts: int = 3
    run_stale_after_s: float = 3600.0
    job_poll_interval_s: float = 5.0
    jobs_enabled: bool = True  # false: orch tracks and talks, but runs no agents
    premerge_rebase_always: bool = True
    task_deps_enabled: bool = True
    coverage_threshold: float = 80.0
    # Lessons
    lessons_enabled: bool = True
    lessons_dedup_window_s: float = 3600.0
    # Chat
    group_messages_per_minute: int = 18
    telegram_rate_limiter: bool = True
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, require_telegram: bool = True) -> Settings:
        """Read `ORCH_*` (and the TOML file named by ORCH_CONFIG) into Settings."""
        env = _Env(environ)
        settings = cls(
            telegram_token=env.text("ORCH_TELEGRAM_TOKEN", required=require_telegram),
            telegram_chat_id=env.parse(
                "ORCH_TELEGRAM_CHAT_ID", _int, "an integer chat id", 0, required=require_telegram
            ),
            approvers=env.parse(
                "ORCH_APPROVERS", _id_set, "comma-separated Telegram user ids", frozenset()
            ),
            telegram_api_url=env.text("ORCH_TELEGRAM_API_URL") or cls.telegram_api_url,
            db_path=env.text("ORCH_DB_PATH") or cls.db_path,
            task_key_prefix=env.parse(
                "ORCH_TASK_KEY_PREFIX",
                _key_prefix,
                "letters and digits, starting with a letter",
                "ORCH",
            ),
            http_port=env.parse("ORCH_HTTP_PORT", _port, "a TCP port 1-65535", None),
            api_token=env.text("ORCH_API_TOKEN"),
            plane_api_url=env.text("ORCH_PLANE_API_URL"),
            plane_api_token=env.text("ORCH_PLANE_API_TOKEN"),
            plane_workspace_slug=env.text("ORCH_PLANE_WORKSPACE_SLUG"),
            plane_projects=env.parse(
                "ORCH_PLANE_PROJECTS", _names, "comma-separated project identifiers", ()
            ),
            plane_states_ttl_s=env.parse(
                "ORCH_PLANE_STATES_TTL_S", _seconds, "seconds >= 0", 300.0
            ),
            plane_rate_limit_per_min=env.parse(
                "ORCH_PLANE_RATE_LIMIT_PER_MIN", _positive, "a positive integer", 60
            ),
            plane_resync_interval_s=env.parse(
                "ORCH_PLANE_RESYNC_INTERVAL_S", _seconds, "seconds >= 0", 3600.0
            ),
            plane_webhook_secret=env.text("ORCH_PLANE_WEBHOOK_SECRET"),
            reconcile_interval_s=env.parse(
                "ORCH_RECONCILE_INTERVAL_S", _seconds, "seconds >= 0", 120.0
            ),
            gitea_url=env.text("ORCH_GITEA_URL"),
            gitea_token=env.text("ORCH_GITEA_TOKEN"),
            repos_dir=env.text("ORCH_REPOS_DIR") or cls.repos_dir,
            max_concurrency=env.parse("ORCH_MAX_CONCURRENCY", _positive, "a positive integer", 2),
            per_repo_concurrency=env.parse(
                "ORCH_PER_REPO_CONCURRENCY", _positive, "a positive integer", None
            ),
            transient_max_attempts=env.parse(
                "ORCH_TRANSIENT_MAX_ATTEMPTS", _positive, "a positive integer", 3
            ),
            run_stale_after_s=env.parse("ORCH_RUN_STALE_AFTER_S", _seconds, "seconds >= 0", 3600.0),
            premerge_rebase_always=env.parse(
                "ORCH_PREMERGE_REBASE_ALWAYS", _bool, "true or false", True
            ),
            jobs_enabled=env.parse("ORCH_JOBS_ENABLED", _bool, "true or false", True),
            task_deps_enabled=env.parse("ORCH_TASK_DEPS_ENABLED", _bool, "true or false", True),
            coverage_threshold=env.parse(
                "ORCH_COVERAGE_THRESHOLD", _seconds, "a percentage >= 0", 80.0
            ),
            lessons_enabled=env.parse("ORCH_LESSONS_ENABLED", _bool, "true or false", True),
            lessons_dedup_window_s=env.parse(
                "ORCH_LESSONS_DEDUP_WINDOW_S", _seconds, "seconds >= 0", 3600.0
            ),
            group_messages_per_minute=env.parse(
                "ORCH_GROUP_MESSAGES_PER_MINUTE", _positive, "a positive integer up to 20", 18
            ),
            log_level=(env.text("ORCH_LOG_LEVEL") or "INFO").upper(),
        )
        config_path = env.text("ORCH_CONFIG")
        return settings.with_file(Path(config_path)) if config_path else settings

    def with_file(self, path: Path) -> Settings:
        """These settings with the pipeline, agents and state names from a TOML file."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError("ORCH_CONFIG", f"no such file {path}") from exc
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError("ORCH_CONFIG", f"a readable TOML file ({exc})") from exc
        return replace(self, **parse_config_document(data))

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets reduced to a hint that they are set."""
        shown: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_FIELDS:
                shown[item.name] = "***" + (" (set)" if value else " (unset)")
            elif isinstance(value, Pipeline):
                shown[item.name] = " → ".join(value.order)
            else:
                shown[item.name] = str(value)
        return shown


def parse_config_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a parsed ORCH_CONFIG document into Settings fields."""
    result: dict[str, Any] = {}
    pipeline = data.get("pipeline")
    if pipeline is not None:
        result["pipeline"] = _pipeline_from(pipeline)
    agents = data.get("agents")
    if agents is not None:
        result["agents"] = {
            role: _agent_from(role, spec) for role, spec in _table(agents, "agents").items()
        }
    concurrency = data.get("concurrency")
    if concurrency is not None:
        table = _table(concurrency, "concurrency")
        result["stage_concurrency"] = _limits(table.get("stages", {}), "concurrency.stages")
        result["role_concurrency"] = _limits(table.get("roles", {}), "concurrency.roles")
    repos = data.get("repos")
    if repos is not None:
        table = _table(repos, "repos")
        if not all(isinstance(v, str) and v for v in table.values()):
            raise ConfigError("ORCH_CONFIG", "repos as a table of repo = remote URL strings")
        result["repo_remotes"] = dict(table)
    plane = data.get("plane")
    if plane is not None:
        result["plane_options"] = {k: v for k, v in _table(plane, "plane").items()
                                   if k != "states"}
    states = plane.get("states") if isinstance(plane, dict) else None
    if states is not None:
        names = {str(k): str(v) for k, v in _table(states, "plane.states").items()}
        result["plane_state_names"] = {**DEFAULT_STATE_NAMES, **names}
    return result


def _pipeline_from(raw: Any) -> Pipeline:
    stages_raw = _table(raw, "pipeline").get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError("ORCH_CONFIG", "pipeline.stages as a non-empty list of tables")
    specs = [_stage_from(i, item) for i, item in enumerate(stages_raw)]
    if specs[0].name != QUEUED:
        specs.insert(0, StageSpec(QUEUED))
    if specs[-1].name != DONE:
        specs.append(StageSpec(DONE))
    try:
        return Pipeline(tuple(specs))
    except ValueError as exc:
        raise ConfigError("ORCH_CONFIG", f"a valid pipeline ({exc})") from exc


def _stage_from(index: int, raw: Any) -> StageSpec:
    where = f"pipeline.stages[{index}]"
    table = _table(raw, where)
    name = table.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError("ORCH_CONFIG", f"{where}.name as a simple word")
    gates = table.get("gates", [])
    if not isinstance(gates, list) or not all(isinstance(g, str) for g in gates):
        raise ConfigError("ORCH_CONFIG", f"{where}.gates as a list of gate names")
    role = table.get("role")
    rollback = table.get("rollback_to")
    return StageSpec(
        name,
        role=role if isinstance(role, str) else None,
        gates=tuple(gates),
        rollback_to=rollback if isinstance(rollback, str) else None,
    )


def _agent_from(role: str, raw: Any) -> AgentCommand:
    table = _table(raw, f"agents.{role}")
    command = table.get("command")
    if isinstance(command, str):
        command = command.split()
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ConfigError("ORCH_CONFIG", f"agents.{role}.command as a list of strings")
    timeout = table.get("timeout_s", 1800)
    transient = table.get("transient_exit_code", 75)
    stall = table.get("stall_timeout_s", 300)
    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("ORCH_CONFIG", f"agents.{role}.timeout_s as seconds > 0")
    if not isinstance(transient, int):
        raise ConfigError("ORCH_CONFIG", f"agents.{role}.transient_exit_code as an integer")
    if not isinstance(stall, int | float) or isinstance(stall, bool) or stall < 0:
        raise ConfigError("ORCH_CONFIG", f"agents.{role}.stall_timeout_s as seconds >= 0")
    return AgentCommand(tuple(command), float(timeout), transient, float(stall))


def _limits(raw: Any, where: str) -> dict[str, int]:
    table = _table(raw, where)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in table.values()):
        raise ConfigError("ORCH_CONFIG", f"{where} as a table of name = runs at once (>= 0)")
    return dict(table)


def _table(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError("ORCH_CONFIG", f"{where} as a table")
    return raw


class _Env:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, *, required: bool = False) -> str:
        value = self._environ.get(name, "").strip()
        if required and not value:
            raise ConfigError(name, "is required")
        return value

    def parse(
        self,
        name: str,
        parser: Callable[[str], T],
        expected: str,
        default: Any,
        *,
        required: bool = False,
    ) -> Any:
        raw = self.text(name, required=required)
        if not raw:
            return default
        try:
            return parser(raw)
        except ValueError as exc:
            raise ConfigError(name, f"expected {expected}, got {raw[:40]!r}") from exc


def _int(raw: str) -> int:
    return int(raw)


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(raw)
    return value


def _seconds(raw: str) -> float:
    value = float(raw)
    if value < 0 or value != value:
        raise ValueError(raw)
    return value


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _id_set(raw: str) -> frozenset[int]:
    return frozenset(int(part) for part in raw.split(",") if part.strip())


def _names(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not all(name.replace("_", "").replace("-", "").isalnum() for name in names):
        raise ValueError(raw)
    return names


def _key_prefix(raw: str) -> str:
    if not (raw[:1].isalpha() and raw.isalnum() and raw.isascii() and len(raw) <= 10):
        raise ValueError(raw)
    return raw.upper()
