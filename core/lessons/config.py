"""What the lessons journal reads of Settings."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from core.settings.slice import slice_of


@dataclass(frozen=True)
class LessonsConfig:
    lessons_enabled: bool
    lessons_dedup_window_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LessonsConfig:
        return slice_of(cls, settings)
