"""Summaries cached per section and revision (seed 002)."""
