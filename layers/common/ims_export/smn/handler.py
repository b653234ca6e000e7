"""The process-wide SMN handler: one verifier (with its certificate cache) and one HTTPS session for each
configuration, built when the first delivery arrives (an export of another trigger loads none of it)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ims_export.cloud.http import new_session
from ims_export.settings import Settings
from ims_export.smn.certs import DEFAULT_CERT_URL_PATTERN
from ims_export.smn.delivery import SmnOutcome, handle_smn_message
from ims_export.smn.verify import new_smn_verifier

# Parses, verifies and acts on a raw SMN body (``handle_smn_message`` with the verifier and session
# bound); raises before any side effect when the message is not authentic.
SmnHandler = Callable[[Any], SmnOutcome]
# Keyed on the settings a handler depends on: rebuilt only if those change (tests do that, and set
# their own handler under the key of their settings).
HANDLERS: dict[tuple[tuple[str, ...], str | None], SmnHandler] = {}


def handler_key(settings: Settings) -> tuple[tuple[str, ...], str | None]:
    return (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)


def smn_handler_for(settings: Settings) -> SmnHandler:
    key = handler_key(settings)
    if key not in HANDLERS:
        session = new_session()
        verifier = new_smn_verifier(
            session,
            allowed_cert_url_pattern=settings.smn_cert_url_pattern or DEFAULT_CERT_URL_PATTERN,
            # An empty allow-list accepts no topic at all, never every topic.
            allowed_topic_urns=frozenset(settings.smn_allowed_topic_urns),
        )
        HANDLERS[key] = partial(handle_smn_message, verifier=verifier, session=session)
    return HANDLERS[key]
