"""Logging set-up that keeps secrets out: Bot API URLs carry the token."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replaces every configured secret in a record's final text with '***'."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        redacted = self.redact(text)
        if redacted != text or record.exc_info:
            record.msg, record.args = redacted, None
            if record.exc_info:
                formatted = logging.Formatter().formatException(record.exc_info)
                record.msg = f"{redacted}\n{self.redact(formatted)}"
                record.exc_info = None
                record.exc_text = None
        return True

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def configure(level: str, secrets: Iterable[str]) -> None:
    """Root logging to stderr with redaction; the HTTP client's URL logs turned down."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and a Bot API URL contains the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
