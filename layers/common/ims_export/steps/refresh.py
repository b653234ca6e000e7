"""The scheduled token refresher: refresh the cached IAM token ahead of time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ims_export.runtime import Clients

if TYPE_CHECKING:
    from ims_export.auth.cache import RefreshReport


def refresh_token(clients: Clients, *, margin_seconds: int) -> RefreshReport:
    """Refresh the cached token if less than ``margin_seconds`` of validity is left."""
    margin = max(margin_seconds, clients.settings.token_refresh_margin_seconds)
    return clients.tokens.refresh_if_needed(margin)
