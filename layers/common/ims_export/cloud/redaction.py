"""Remove secrets (passwords, tokens) from text an upstream service echoed, before we repeat it.

IAM and IMS error answers may quote what we sent: the password JSON-escaped in the request body, the
token in a header dump, either URL-encoded or base64-encoded. ``redact`` replaces every encoding of
every secret with ``***`` and every fragment of 16 characters or more of a secret (a truncated token
echo). Replacing a short secret would garble the text and show where its letters are (password ``e``:
"Th*** us***rnam***"), so a text holding any encoding of a short secret is withheld as a whole.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"
# Messages that quote an upstream answer are cut to this length.
MAX_MESSAGE_LENGTH = 300
WITHHELD = "(text withheld: it may quote a secret)"
# An encoding shorter than this is not replaced inside a text but withholds the whole text.
MIN_MASKABLE_CHARS = 8
# Fragments of a secret this long or longer are redacted wherever they appear.
FRAGMENT_CHARS = 16
# A run this long of base64 or URL-encoding characters may be an encoded echo of a request: inside it a
# short secret cannot be told apart, so echoed text drops such runs as a whole.
_ENCODED_RUN = re.compile(r"[A-Za-z0-9+/=%_-]{24,}")


def _base64_forms(secret: bytes) -> set[str]:
    """The secret's base64 encodings on its own and at every alignment inside a longer encoded text:
    only the characters whose bits all come from the secret are kept for the embedded forms."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(secret).decode()
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            encoded = encode(b"\0" * offset + secret + b"\0\0").decode()
            first_bit, end_bit = 8 * offset, 8 * (offset + len(secret))
            stable = [
                char
                for index, char in enumerate(encoded)
                if 6 * index >= first_bit and 6 * index + 6 <= end_bit
            ]
            if len(stable) >= MIN_MASKABLE_CHARS:
                forms.add("".join(stable))
    return forms


def encodings(secret: str) -> set[str]:
    """The forms in which ``secret`` may be echoed: raw, JSON-escaped, URL-encoded, base64."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret, safe=""),
    }
    forms |= {form.lower() for form in forms if "%" in form}
    forms |= _base64_forms(secret.encode("utf-8", "surrogatepass"))
    return {form for form in forms if form}


def _fragment_spans(text: str, secret: str) -> list[tuple[int, int]]:
    """Where text shares at least FRAGMENT_CHARS consecutive characters with ``secret``."""
    if len(secret) < FRAGMENT_CHARS or len(text) < FRAGMENT_CHARS:
        return []
    windows = {secret[start : start + FRAGMENT_CHARS] for start in range(len(secret) - FRAGMENT_CHARS + 1)}
    spans: list[tuple[int, int]] = []
    for start in range(len(text) - FRAGMENT_CHARS + 1):
        if text[start : start + FRAGMENT_CHARS] in windows:
            end = start + FRAGMENT_CHARS
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return spans


def _mask_fragments(text: str, secret: str) -> str:
    for start, end in reversed(_fragment_spans(text, secret)):
        text = text[:start] + REDACTED + text[end:]
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any encoding or long fragment of ``secrets``; WITHHELD if a short one occurs."""
    for secret in (secret for secret in secrets if secret):
        for form in sorted(encodings(secret), key=len, reverse=True):
            if form not in text:
                continue
            if len(form) < MIN_MASKABLE_CHARS:
                return WITHHELD
            text = text.replace(form, REDACTED)
        for form in {secret, quote(secret, safe="")}:
            text = _mask_fragments(text, form)
    return text


def redact_echo(text: str, secrets: Iterable[str]) -> str:
    """``redact`` for text that may quote our whole request (IAM's error messages): also without any
    long run of encoded characters, in which a secret of any length could hide."""
    return _ENCODED_RUN.sub(REDACTED, redact(text, secrets))


def redact_message(text: str, secrets: Iterable[str], *, max_length: int = MAX_MESSAGE_LENGTH) -> str:
    """``redact``, on one line and cut to ``max_length``: for a message that names an upstream answer.

    Secrets are removed before cutting, so that a cut can never leave part of one behind.
    """
    text = " ".join(redact(text, secrets).split())
    return text if len(text) <= max_length else text[: max_length - 3] + "..."
