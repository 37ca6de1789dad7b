"""Settings: one frozen object read once from `ORCH_*` and an optional TOML file.

Every ORCH_* setting is declared here, once, as a field: `name: type = setting(ENV,
default, KIND, help, group=…, [secret, required, low, high, why])`. That declaration is
all it takes: the environment reader, range checks, `orch doctor` and docs/settings.md
follow from it (see core.settings). Fields without `setting(...)` come from the
ORCH_CONFIG file (core.settings.document) or from code (tests, the sandbox).

`Settings.from_env(environ)` is the only reader of the environment; tests build
`Settings(...)` directly. A missing or malformed setting raises ConfigError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.pipeline.stages import DEFAULT_STAGES, Pipeline
from core.settings.declare import (
    BOOL,
    CHAT_ID,
    INTEGER,
    KEY_PREFIX,
    LOG_LEVEL,
    NAMES,
    NUMBER,
    SECONDS,
    TEXT,
    URL,
    USER_IDS,
    declared,
    read_environment,
    refuse_unknown,
    setting,
)
from core.settings.document import (
    DEFAULT_STATE_NAMES,
    AgentCommand,
    parse_config_document,
    read_toml,
)

__all__ = ["DEFAULT_STATE_NAMES", "AgentCommand", "Settings", "parse_config_document"]

TELEGRAM, STORAGE, HTTP, PLANE, GITEA, WORK, LESSONS, PROCESS = (
    "Telegram", "Storage", "HTTP", "Plane", "Gitea", "Pipeline work", "Lessons", "Process")

# Set by orch for the agents it runs (core/integrations/agents/runner.py): an orch
# started inside an agent's run sees them, and they are not settings.
AGENT_RUN_VARIABLES = frozenset({
    "ORCH_TASK_KEY", "ORCH_TASK_TITLE", "ORCH_TASK_DESCRIPTION", "ORCH_REPO", "ORCH_BRANCH",
    "ORCH_STAGE", "ORCH_ROLE", "ORCH_ATTEMPT", "ORCH_RUN_ID", "ORCH_PROMPT_FILE",
    "ORCH_RESULT_FILE", "ORCH_WORKTREE", "ORCH_MERGE_SHA", "ORCH_HEARTBEAT_FILE",
})


@dataclass(frozen=True)
class Settings:
    """Everything orch is configured with. Frozen: nothing changes it at run time."""

    # Telegram
    telegram_token: str = setting(
        "ORCH_TELEGRAM_TOKEN", "", TEXT, "the bot's token from @BotFather",
        group=TELEGRAM, secret=True, required=True)
    telegram_chat_id: int = setting(
        "ORCH_TELEGRAM_CHAT_ID", 0, CHAT_ID, "the team group; every other chat is refused",
        group=TELEGRAM, required=True)
    approvers: frozenset[int] = setting(
        "ORCH_APPROVERS", frozenset(), USER_IDS,
        "Telegram user ids allowed to press buttons and use /new", group=TELEGRAM)
    telegram_api_url: str = setting(
        "ORCH_TELEGRAM_API_URL", "https://api.telegram.org/bot", URL,
        "Bot API base (a self-hosted Bot API server, or the sandbox)", group=TELEGRAM)
    telegram_webhook_url: str = setting(
        "ORCH_TELEGRAM_WEBHOOK_URL", "", URL,
        "receive updates by webhook at this public URL, which must reach /hooks/telegram "
        "on ORCH_HTTP_PORT (unset: orch polls)", group=TELEGRAM, shown_default="none")
    group_messages_per_minute: int = setting(
        "ORCH_GROUP_MESSAGES_PER_MINUTE", 18, INTEGER,
        "orch's own budget of messages to the group: replies, pushes, cards and edits all "
        "count; kept in SQLite across restarts", group=TELEGRAM, low=1, high=20,
        why="Telegram allows 20 messages a minute in a group")
    task_key_prefix: str = setting(
        "ORCH_TASK_KEY_PREFIX", "ORCH", KEY_PREFIX, "keys of tasks made with /new",
        group=TELEGRAM)
    # Storage
    db_path: str = setting(
        "ORCH_DB_PATH", "orch.db", TEXT, "the SQLite file: the source of truth", group=STORAGE)
    repos_dir: str = setting(
        "ORCH_REPOS_DIR", "repos", TEXT, "clones, task worktrees and run logs", group=STORAGE)
    config_path: str = setting(
        "ORCH_CONFIG", "", TEXT,
        "TOML file: pipeline stages, agent commands, repos, Plane options (see below)",
        group=STORAGE, shown_default="none")
    # HTTP
    http_port: int | None = setting(
        "ORCH_HTTP_PORT", None, INTEGER,
        "serves /healthz, /readyz, /metrics, /hooks/plane, /hooks/gitea and the /api/* "
        "endpoints", group=HTTP, low=1, high=65535, shown_default="off")
    api_token: str = setting(
        "ORCH_API_TOKEN", "", TEXT,
        "bearer token of /api/lessons and /api/queue (unset: they are disabled)",
        group=HTTP, secret=True)
    http_host: str = setting(
        "ORCH_HTTP_HOST", "127.0.0.1", TEXT,
        "the address the HTTP face listens on (the Docker image sets 0.0.0.0)", group=HTTP)
    http_max_body_bytes: int = setting(
        "ORCH_HTTP_MAX_BODY_BYTES", 1_000_000, INTEGER,
        "a larger request body is answered 413 without being read", group=HTTP, low=1)
    ready_telegram_grace_s: float = setting(
        "ORCH_READY_TELEGRAM_GRACE_S", 60.0, SECONDS,
        "/readyz fails when Telegram's last call failed and none succeeded for this long",
        group=HTTP, low=0)
    ready_outbox_stuck_s: float = setting(
        "ORCH_READY_OUTBOX_STUCK_S", 300.0, SECONDS,
        "/readyz fails when messages wait this long while nothing is sent", group=HTTP,
        low=1)
    # Plane
    plane_api_url: str = setting(
        "ORCH_PLANE_API_URL", "", URL,
        "Plane's address, e.g. https://plane.example.com (the sync runs when Plane's "
        "three settings are set)", group=PLANE)
    plane_api_token: str = setting(
        "ORCH_PLANE_API_TOKEN", "", TEXT, "a Plane API key (Profile settings → API tokens)",
        group=PLANE, secret=True)
    plane_workspace_slug: str = setting(
        "ORCH_PLANE_WORKSPACE_SLUG", "", TEXT, "the workspace part of Plane's URLs",
        group=PLANE)
    plane_projects: tuple[str, ...] = setting(
        "ORCH_PLANE_PROJECTS", (), NAMES, "project identifiers to follow", group=PLANE,
        shown_default="every visible project")
    plane_states_ttl_s: float = setting(
        "ORCH_PLANE_STATES_TTL_S", 300.0, SECONDS,
        "states cache lifetime; 0 keeps them for the process lifetime", group=PLANE, low=0)
    plane_rate_limit_per_min: int = setting(
        "ORCH_PLANE_RATE_LIMIT_PER_MIN", 60, INTEGER,
        "one request budget shared by every Plane call", group=PLANE, low=1, high=300,
        why="Plane allows 60 a minute per API key, 300 for service tokens")
    plane_resync_interval_s: float = setting(
        "ORCH_PLANE_RESYNC_INTERVAL_S", 3600.0, SECONDS,
        "full resync of every followed project; 0: never", group=PLANE, low=0)
    reconcile_interval_s: float = setting(
        "ORCH_RECONCILE_INTERVAL_S", 120.0, SECONDS,
        "incremental sync tick; 0: only webhooks and full resyncs", group=PLANE, low=0)
    plane_webhook_secret: str = setting(
        "ORCH_PLANE_WEBHOOK_SECRET", "", TEXT,
        "verifies X-Plane-Signature on /hooks/plane (needs ORCH_HTTP_PORT)", group=PLANE,
        secret=True)
    plane_state_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATE_NAMES))
    # the rest of ORCH_CONFIG's [plane] table (repos, writeback, start_approved), read
    # here once and interpreted by core.sync.config
    plane_options: Mapping[str, Any] = field(default_factory=dict)
    # Gitea
    gitea_url: str = setting(
        "ORCH_GITEA_URL", "", URL, "Gitea or Forgejo's address, e.g. https://git.example.com",
        group=GITEA)
    gitea_token: str = setting(
        "ORCH_GITEA_TOKEN", "", TEXT, "a Gitea access token with repository read and write",
        group=GITEA, secret=True)
    gitea_webhook_secret: str = setting(
        "ORCH_GITEA_WEBHOOK_SECRET", "", TEXT,
        "verifies X-Gitea-Signature / X-Forgejo-Signature on /hooks/gitea (needs "
        "ORCH_HTTP_PORT)", group=GITEA, secret=True)
    merge_status_context: str = setting(
        "ORCH_MERGE_STATUS_CONTEXT", "orch/merge", TEXT,
        "the commit status the merge gate's re-test reports (require it on main)",
        group=GITEA)
    merge_lease_ttl_s: float = setting(
        "ORCH_MERGE_LEASE_TTL_S", 1800.0, SECONDS,
        "a repo's merge lease expires this long after its holder last renewed it",
        group=GITEA, low=60)
    merge_poll_interval_s: float = setting(
        "ORCH_MERGE_POLL_INTERVAL_S", 60.0, SECONDS,
        "how often the merge gate looks at the forge without a webhook", group=GITEA, low=1)
    # repo → forge owner/name (ORCH_CONFIG [forge.repos]); default: the remote URL's path
    forge_repos: Mapping[str, str] = field(default_factory=dict)
    # Pipeline work
    jobs_enabled: bool = setting(
        "ORCH_JOBS_ENABLED", True, BOOL, "false: orch tracks and talks but runs no agents",
        group=WORK)
    max_concurrency: int = setting(
        "ORCH_MAX_CONCURRENCY", 2, INTEGER, "agent runs at once", group=WORK, low=1, high=64)
    per_repo_concurrency: int | None = setting(
        "ORCH_PER_REPO_CONCURRENCY", None, INTEGER, "agent runs at once in one repo",
        group=WORK, low=1, high=64, shown_default="no limit")
    transient_max_attempts: int = setting(
        "ORCH_TRANSIENT_MAX_ATTEMPTS", 3, INTEGER,
        "transient failures retried with backoff, then blocked", group=WORK, low=1, high=20)
    run_stale_after_s: float = setting(
        "ORCH_RUN_STALE_AFTER_S", 3600.0, SECONDS,
        'open runs older than this are swept as "orch restarted during the run"',
        group=WORK, low=0)
    premerge_rebase_always: bool = setting(
        "ORCH_PREMERGE_REBASE_ALWAYS", True, BOOL,
        "rebase a task's branch onto main before every merge", group=WORK)
    task_deps_enabled: bool = setting(
        "ORCH_TASK_DEPS_ENABLED", True, BOOL, "kill-switch of the dependency gate", group=WORK)
    coverage_threshold: float = setting(
        "ORCH_COVERAGE_THRESHOLD", 80.0, NUMBER,
        "the coverage gate passes at this percentage or more", group=WORK, low=0, high=100)
    agent_env: tuple[str, ...] = setting(
        "ORCH_AGENT_ENV", (), NAMES,
        "environment variables every agent may see besides PATH, HOME and LANG",
        group=WORK, shown_default="none")
    agent_result_max_bytes: int = setting(
        "ORCH_AGENT_RESULT_MAX_BYTES", 1_000_000, INTEGER,
        "a larger result file fails the run unread", group=WORK, low=1)
    agents: Mapping[str, AgentCommand] = field(default_factory=dict)
    pipeline: Pipeline = field(default_factory=lambda: Pipeline(DEFAULT_STAGES))
    # repo name → git remote URL (ORCH_CONFIG [repos]); a repo without one gets a local
    # repository under repos_dir, which is what the sandbox uses
    repo_remotes: Mapping[str, str] = field(default_factory=dict)
    job_poll_interval_s: float = 5.0
    # ORCH_CONFIG [concurrency.stages] / [concurrency.roles]: name → agent runs at once
    stage_concurrency: Mapping[str, int] = field(default_factory=dict)
    role_concurrency: Mapping[str, int] = field(default_factory=dict)
    # ORCH_CONFIG [budget]: a task whose runs spent more is blocked
    budget_tokens: int | None = None
    budget_cost: float | None = None
    # Lessons
    lessons_enabled: bool = setting(
        "ORCH_LESSONS_ENABLED", True, BOOL, "the lessons journal", group=LESSONS)
    lessons_dedup_window_s: float = setting(
        "ORCH_LESSONS_DEDUP_WINDOW_S", 3600.0, SECONDS,
        "an automatic lesson seen again within this window is not recorded twice",
        group=LESSONS, low=0)
    # Process
    log_level: str = setting(
        "ORCH_LOG_LEVEL", "INFO", LOG_LEVEL, "how much orch logs", group=PROCESS)
    telegram_rate_limiter: bool = True  # PTB's own limiter; the sandbox turns it off

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, require_telegram: bool = True) -> Settings:
        """Read `ORCH_*` (and the TOML file named by ORCH_CONFIG) into Settings."""
        refuse_unknown(environ, (spec.env for _, spec in declared(cls)), AGENT_RUN_VARIABLES)
        settings = cls(**read_environment(cls, environ, enforce_required=require_telegram))
        return settings.with_file(Path(settings.config_path)) if settings.config_path else settings

    def with_file(self, path: Path) -> Settings:
        """These settings with the pipeline, agents and state names from a TOML file."""
        fields = parse_config_document(read_toml(path), str(path))
        return replace(self, config_path=str(path), **fields)
