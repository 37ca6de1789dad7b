"""The narrow interfaces core talks through: every port, documented once, in one place.

One module per port family; each port has 1–6 methods. Composites (`Tracker`,
`DependencyStore`, `SyncStore`) join two ports for the adapter that implements both.
Port modules import only value types, and those only for type checking, so any module
may import `core.ports` without a cycle. Real adapters live in storage/ (SQLite),
core/integrations/ (Plane, git, agents), app/ (the scheduler) and bot/ (Telegram); fakes
in tests/fakes/ pass the same contract suites (tests/integration/test_*_contract.py).

| family  | ports                                                        |
| ------- | ------------------------------------------------------------ |
| clock   | Clock                                                        |
| tasks   | TaskStore (+ TaskDraft, TaskChange, EventDraft, Applied)      |
| notify  | Notifier (+ NotifierHub, the fan-out)                         |
| jobs    | JobStore, RunStore, JobStats, RunLedger                      |
| agents  | AgentRunner, Worktrees, ProcessLedger, OpenProcesses, Reaper |
| lessons | LessonStore, LessonsFeed                                     |
| instance| LeaseStore                                                   |
| deps    | DependencyEdges, DependencyProgress, DependencySink           |
| tracker | TrackerReader, TrackerWriter, StatesSource, TrackerMeter,     |
|         | TrackerWebhooks                                              |
| sync    | ItemRecords, SyncCursors, MissingMarks, ReconcileHints,       |
|         | DeliveryLog, WriteBackRows, WriteBackLedger, PauseStore,      |
|         | BudgetStore                                                  |
| queue   | QueueBlockSource, QueueSectionView, WaitExplainer, OpenTasks,   |
|         | RevisionSource                                               |
| forge   | Forge (+ PullRequest, CommitStatus, CombinedStatus, StatusState) |
| merge   | MergeLeaseStore, MergeRecords, BranchGit, Retester (+ MergeLease, Rebased, Retest) |
| schedule| Scheduler (the one scheduler; core.pacer.Pacer runs loops on it) |
| chat    | InboxStore, OutboxQueue, OutboxUpkeep, SendLedger,            |
|         | ButtonRetirements (OutboxStore), CardStore, TaskLookup,       |
|         | ChatRenderer, ChatSender, UnitOfWork                          |
"""

from __future__ import annotations

from core.ports.agents import (
    AgentRunner,
    OpenProcesses,
    ProcessLedger,
    Reaper,
    Worktrees,
)
from core.ports.chat import (
    ButtonRetirements,
    CardStore,
    ChatRenderer,
    ChatSender,
    InboxStore,
    OutboxQueue,
    OutboxStore,
    OutboxUpkeep,
    SendLedger,
    TaskLookup,
    UnitOfWork,
)
from core.ports.clock import Clock
from core.ports.deps import DependencyEdges, DependencyProgress, DependencySink, DependencyStore
from core.ports.forge import (
    CombinedStatus,
    CommitStatus,
    Forge,
    PullRequest,
    StatusState,
    combine,
)
from core.ports.instance import LeaseStore
from core.ports.jobs import JobStats, JobStore, RunLedger, RunStore
from core.ports.lessons import LessonsFeed, LessonStore
from core.ports.merge import (
    BranchGit,
    MergeLease,
    MergeLeaseGrant,
    MergeLeaseStore,
    MergeRecords,
    Rebased,
    Retest,
    Retester,
)
from core.ports.notify import Notifier, NotifierHub
from core.ports.queue import (
    OpenTasks,
    QueueBlockSource,
    QueueSectionView,
    RevisionSource,
    WaitExplainer,
)
from core.ports.schedule import Scheduler
from core.ports.sync import (
    BudgetStore,
    DeliveryLog,
    ItemRecords,
    MissingMarks,
    PauseStore,
    ReconcileHints,
    SyncCursors,
    SyncStore,
    WriteBackLedger,
    WriteBackRows,
    WriteBackStore,
)
from core.ports.tasks import Applied, EventDraft, TaskChange, TaskDraft, TaskStore
from core.ports.tracker import (
    StatesSource,
    Tracker,
    TrackerMeter,
    TrackerReader,
    TrackerWebhooks,
    TrackerWriter,
)

__all__ = [
    "AgentRunner",
    "Applied",
    "BranchGit",
    "BudgetStore",
    "ButtonRetirements",
    "CardStore",
    "ChatRenderer",
    "ChatSender",
    "Clock",
    "CombinedStatus",
    "CommitStatus",
    "DeliveryLog",
    "DependencyEdges",
    "DependencyProgress",
    "DependencySink",
    "DependencyStore",
    "EventDraft",
    "Forge",
    "InboxStore",
    "ItemRecords",
    "JobStats",
    "JobStore",
    "LeaseStore",
    "LessonStore",
    "LessonsFeed",
    "MergeLease",
    "MergeLeaseGrant",
    "MergeLeaseStore",
    "MergeRecords",
    "MissingMarks",
    "Notifier",
    "NotifierHub",
    "OpenProcesses",
    "OpenTasks",
    "OutboxQueue",
    "OutboxStore",
    "OutboxUpkeep",
    "PauseStore",
    "ProcessLedger",
    "PullRequest",
    "QueueBlockSource",
    "QueueSectionView",
    "Reaper",
    "Rebased",
    "ReconcileHints",
    "Retest",
    "Retester",
    "RevisionSource",
    "RunLedger",
    "RunStore",
    "Scheduler",
    "SendLedger",
    "StatesSource",
    "StatusState",
    "SyncCursors",
    "SyncStore",
    "TaskChange",
    "TaskDraft",
    "TaskLookup",
    "TaskStore",
    "Tracker",
    "TrackerMeter",
    "TrackerReader",
    "TrackerWebhooks",
    "TrackerWriter",
    "UnitOfWork",
    "WaitExplainer",
    "Worktrees",
    "WriteBackLedger",
    "WriteBackRows",
    "WriteBackStore",
    "combine",
]
