"""docs/settings.md, generated from the declarations: `make settings-doc` rewrites it.

A test compares the file with `render()`, so the table can never drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.config import Settings
from core.settings.show import environment_table, file_table

PATH = Path(__file__).resolve().parent.parent / "docs" / "settings.md"

INTRO = """\
# Settings

<!-- Generated from core/config.py and core/settings/document.py by `make settings-doc`;
     edit the declarations, not this file. A test fails when they differ. -->

orch reads its settings once at start-up: `ORCH_*` environment variables, and the TOML
file named by `ORCH_CONFIG` for the pipeline, the agents, the repositories and Plane's
names. A missing, unknown, malformed or out-of-range setting stops start-up with exit
status 2 and one line naming it (with a "did you mean" for a misspelling); `orch doctor`
runs the same checks, shows the result with every secret masked, and names what is
still missing. New here? See [getting started](getting-started.md).

## Environment

"""

FILE_INTRO = """

## The ORCH_CONFIG file

Every table and key the file may hold; any other is refused. `orch init` writes a
commented example. Cross-references are checked before orch starts: every gate must
exist, every `[agents.<role>]` must be a role of some stage, `rollback_to` must name an
earlier stage, `plane.writeback` keys must be stages, `plane.states` keys must be among
`approved`, `in_progress`, `in_review`, `blocked`, `done`, `cancelled`, and
`plane.repos` must name followed projects and (when `[repos]` is set) known repos.

"""


def render() -> str:
    return INTRO + environment_table(Settings) + FILE_INTRO + file_table() + "\n"


def main() -> int:
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
