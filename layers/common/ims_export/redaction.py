"""Masking secrets in text that may leave the process (error messages, log lines)."""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "***"
MAX_MESSAGE_LENGTH = 300


def redact(text: str, secrets: Iterable[str], *, max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """``text`` with every secret replaced by ``***``, whitespace collapsed, and cut to ``max_length``.

    Secrets are masked before cutting, so that a cut can never leave part of one behind.
    """
    for secret in sorted((secret for secret in secrets if secret), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = " ".join(text.split())
    return text if len(text) <= max_length else text[: max_length - 3] + "..."
