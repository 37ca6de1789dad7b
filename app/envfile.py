"""`orch --env-file FILE`: ORCH_* settings from a file such as the `.env` `orch init` wrote.

The format is the one Docker's `--env-file` and systemd's `EnvironmentFile=` read:
`NAME=value` lines, `#` comments and blank lines; a value may be wrapped in one pair of
quotes, and `export NAME=value` is accepted. The process environment wins over the file,
so one variable can be overridden for one run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from core.errors import ConfigError


def read_env_file(path: Path) -> dict[str, str]:
    """The file's variables; ConfigError naming the file and line when one is malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--env-file", f"a readable file ({path}: {exc})") from exc
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "").isalnum():
            raise ConfigError("--env-file", f"NAME=value lines ({path}, line {number})")
        found[name] = _unquoted(value.strip())
    return found


def merged(environ: Mapping[str, str], file_values: Mapping[str, str]) -> dict[str, str]:
    """The file's values under the process environment's."""
    return {**file_values, **environ}


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
