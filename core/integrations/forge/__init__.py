"""Forge drivers behind core's Forge port: Gitea/Forgejo today (a GitHub driver later
gets its own modules here)."""
