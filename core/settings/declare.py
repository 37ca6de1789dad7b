"""A setting is declared once, as a field of Settings: `x: int = setting(...)`.

The declaration carries everything anyone needs to know about the setting: its ORCH_*
name, how its text is parsed (a Kind), its default, its range, whether it is a secret,
the group it belongs to and one line of help. The environment reader, the range checks,
`orch doctor`'s listing and the generated docs/settings.md all read the declarations,
so adding a setting is one declaration and nothing else.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from core.errors import ConfigError

SPEC = "orch.setting"


@dataclass(frozen=True, slots=True)
class Kind:
    """How a setting's text becomes a value; `expected` says what it takes, for people."""

    parse: Callable[[str], Any]
    expected: str


@dataclass(frozen=True, slots=True)
class Setting:
    """Everything declared about one ORCH_* setting."""

    env: str
    kind: Kind
    help: str
    group: str
    secret: bool = False
    required: bool = False
    low: float | None = None
    high: float | None = None
    why: str = ""  # the reason for the range, shown when a value is refused
    shown_default: str | None = None  # how the docs name the default, when str() won't do

    def read(self, raw: str) -> Any:
        """The parsed, range-checked value of `raw`; ConfigError naming the setting."""
        try:
            value = self.kind.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if self.secret else repr(raw[:40])
            raise ConfigError(self.env, f"expected {self.takes}, got {shown}") from exc
        if not self.in_range(value):
            because = f" ({self.why})" if self.why else ""
            raise ConfigError(self.env, f"expected {self.takes}, got {raw[:40]!r}{because}")
        return value

    def in_range(self, value: Any) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return True
        return not ((self.low is not None and value < self.low)
                    or (self.high is not None and value > self.high))

    @property
    def takes(self) -> str:
        """What the setting takes, with its range: 'an integer from 1 to 20'."""
        if self.low is not None and self.high is not None:
            return f"{self.kind.expected} from {_num(self.low)} to {_num(self.high)}"
        if self.low is not None:
            return f"{self.kind.expected} >= {_num(self.low)}"
        if self.high is not None:
            return f"{self.kind.expected} <= {_num(self.high)}"
        return self.kind.expected


def setting(env: str, default: Any, kind: Kind, help: str, *, group: str,
            secret: bool = False, required: bool = False, low: float | None = None,
            high: float | None = None, why: str = "", shown_default: str | None = None) -> Any:
    """A Settings field read from `env`; its default must be immutable."""
    spec = Setting(env, kind, help, group, secret, required, low, high, why, shown_default)
    return field(default=default, metadata={SPEC: spec})


def declared(settings_type: type) -> Iterator[tuple[Field[Any], Setting]]:
    """Every field of `settings_type` that is read from the environment, in order."""
    for item in fields(settings_type):
        spec = item.metadata.get(SPEC)
        if spec is not None:
            yield item, spec


def read_environment(settings_type: type, environ: Mapping[str, str], *,
                     enforce_required: bool = True) -> dict[str, Any]:
    """The fields whose ORCH_* variable is set, parsed; ConfigError for the first bad one."""
    values: dict[str, Any] = {}
    for item, spec in declared(settings_type):
        raw = environ.get(spec.env, "").strip()
        if raw:
            values[item.name] = spec.read(raw)
        elif spec.required and enforce_required:
            raise ConfigError(spec.env, "is required")
    return values


def refuse_unknown(environ: Mapping[str, str], known: Iterable[str],
                   ignored: Iterable[str] = ()) -> None:
    """ConfigError for an ORCH_* variable nobody declared: most likely a typo."""
    names = sorted(set(known))
    skip = set(ignored)
    for name in sorted(environ):
        if name.startswith("ORCH_") and name not in names and name not in skip:
            raise ConfigError(name, f"is not a setting{did_you_mean(name, names)}")


def did_you_mean(word: str, choices: Iterable[str], shown: Callable[[str], str] = str) -> str:
    """' (did you mean X?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {shown(close[0])}?)" if close else ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- kinds ----------------------------------------------------------------------------


def _text(raw: str) -> str:
    return raw


def _url(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in ("http", "https") or not rest or " " in raw:
        raise ValueError(raw)
    return raw


def _float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _nonzero(raw: str) -> int:
    value = int(raw)
    if value == 0:
        raise ValueError(raw)
    return value


def _ids(raw: str) -> frozenset[int]:
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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _level(raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ValueError(raw)
    return raw.upper()


TEXT = Kind(_text, "text")
URL = Kind(_url, "an http:// or https:// URL")
INTEGER = Kind(int, "an integer")
CHAT_ID = Kind(_nonzero, "a non-zero integer chat id (a group's starts with -100)")
SECONDS = Kind(_float, "seconds")
NUMBER = Kind(_float, "a number")
BOOL = Kind(_bool, "true or false")
USER_IDS = Kind(_ids, "comma-separated Telegram user ids")
NAMES = Kind(_names, "comma-separated identifiers")
KEY_PREFIX = Kind(_key_prefix, "up to 10 letters and digits, starting with a letter")
LOG_LEVEL = Kind(_level, "one of " + ", ".join(LOG_LEVELS))
