"""The merge gate: one task per repository at a time, rebased, re-tested, merged through
the forge with the SHA that was tested."""
