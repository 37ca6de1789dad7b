"""orch's Telegram side: handlers, rendering, the notifier and the process wiring."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and
# friends) now, rather than have every 429 raise a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
