"""A parsed HTTP request, as the API handlers see it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from localdev.emulator.replies import ApiError


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    # Header names in lower case. Left out of the repr: they carry X-Auth-Token, the body a password.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)
    base_url: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self, error: ApiError) -> Any:
        """The body as JSON; ``error`` if it is empty or not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise error from None
