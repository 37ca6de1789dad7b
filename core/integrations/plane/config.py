"""What the Plane client reads of Settings: where Plane is, the key, how fast to call."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import Settings
from core.settings.slice import slice_of


@dataclass(frozen=True)
class PlaneAccess:
    plane_api_url: str
    plane_api_token: str = field(repr=False)  # a secret: never in a repr or a log
    plane_workspace_slug: str
    plane_rate_limit_per_min: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PlaneAccess:
        return slice_of(cls, settings)
