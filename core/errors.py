"""The exception tree of core, documented once.

OrchError
├── ConfigError            a setting is missing or malformed (start-up stops, exit 2)
│   └── ConfigFileError    a key of the ORCH_CONFIG file is unknown or malformed
├── DomainError            a request the domain refuses; the message is fit for users
│   ├── UnknownTask        no task with that id or key
│   ├── IllegalTransition  the pipeline does not allow that move
│   ├── StaleVersion       someone else changed the task first (compare-and-set lost)
│   ├── DuplicateTask      a task for that key or tracker item exists already
│   ├── JobConflict        the task has an open (queued or running) job already
│   └── NotAuthorised      the actor may not do this
├── TrackerError           the tracker (Plane) failed or answered garbage
│   ├── TrackerUnavailable transport errors, 5xx, retries spent
│   ├── TrackerRateLimited 429 past our patience
│   ├── TrackerRejected    a 4xx other than 429, with the server's message
│   └── InvalidDelivery    a webhook request that is not a well-formed delivery (400)
│       └── UnverifiedDelivery  its signature is missing or wrong (401)
├── StorageError           the database failed underneath a repository
└── ForgeError             the forge (Gitea/Forgejo) failed or refused; `status` is HTTP's
    ├── ForgeUnavailable   transport failures, 5xx, 429: retries spent
    └── ForgeRejected      a 4xx answer, with the server's message
        ├── ForgeNotFound  404: no such PR, or merging a closed (or already merged) PR
        ├── MergeRefused   405: still checking, required statuses not green, not
        │                  allowed, already merged: re-fetch the PR before deciding
        └── MergeConflict  409: head_commit_id is stale, or the trees conflict
"""

from __future__ import annotations


class OrchError(Exception):
    """Root of every error orch raises on purpose."""


class ConfigError(OrchError):
    """A setting is missing or malformed; `setting` names it."""

    def __init__(self, setting: str, expected: str) -> None:
        super().__init__(f"{setting}: {expected}")
        self.setting = setting
        self.expected = expected

    @property
    def line(self) -> str:
        """The one line start-up prints: the setting's name and what is wrong with it."""
        if self.expected.startswith("is "):
            return f"setting {self.setting} {self.expected}"
        return f"setting {self.setting} is malformed: {self.expected}"


class ConfigFileError(ConfigError):
    """A key of the ORCH_CONFIG file is unknown or malformed; names the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        spoken = problem.startswith(("is ", "names "))
        joined = f"{key} {problem}" if spoken else f"{key}: {problem}"
        super().__init__("ORCH_CONFIG", f"{source}: {joined}")
        self.source = source
        self.key = key

    @property
    def line(self) -> str:
        return self.expected


class DomainError(OrchError):
    """A refusal by the domain; str(error) is shown to users as is."""


class UnknownTask(DomainError):
    pass


class IllegalTransition(DomainError):
    pass


class StaleVersion(DomainError):
    pass


class DuplicateTask(DomainError):
    pass


class NotAuthorised(DomainError):
    pass


class JobConflict(DomainError):
    pass


class TrackerError(OrchError):
    """The tracker failed; never carries an API key or a full URL with secrets."""


class TrackerUnavailable(TrackerError):
    pass


class TrackerRateLimited(TrackerError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TrackerRejected(TrackerError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class StorageError(OrchError):
    """The database failed; raised by storage/ with the sqlite error as __cause__."""


class InvalidDelivery(TrackerError):
    """A webhook request that is not a genuine, well-formed delivery of the tracker."""


class UnverifiedDelivery(InvalidDelivery):
    """A webhook request whose signature is missing or wrong (or no secret is set)."""


class ForgeError(OrchError):
    """The forge failed or refused; never carries a token. `status` is the HTTP status
    when the forge answered (None for transport failures)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ForgeUnavailable(ForgeError):
    pass


class ForgeRejected(ForgeError):
    pass


class ForgeNotFound(ForgeRejected):
    pass


class MergeRefused(ForgeRejected):
    pass


class MergeConflict(ForgeRejected):
    pass
