"""A service's slice of Settings: a small frozen dataclass whose fields are named and
typed as the Settings fields the service reads, copied once (`slice_of`) when orch is
wired or its configuration reloaded. The service then depends on what it reads only."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from core.config import Settings

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    S = TypeVar("S", bound=DataclassInstance)
else:
    S = TypeVar("S")


def slice_of(kind: type[S], settings: Settings) -> S:
    """`kind` with each of its fields copied from the Settings field of that name."""
    values: dict[str, Any] = {item.name: getattr(settings, item.name) for item in fields(kind)}
    return kind(**values)
