"""How orch's configuration is declared, read, checked and shown.

`core.config.Settings` is the one place a setting is declared (`setting(...)`: its
ORCH_* name, kind, default, range, secret flag, help and group). This package turns
those declarations into the reader of the environment (`declare`), the strict reader
of the ORCH_CONFIG file (`document`), the checks run before orch starts (`checks`),
and the text people read: `orch doctor`'s listing and docs/settings.md (`show`).
"""
