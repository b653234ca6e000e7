"""Test control of the emulated OBS and securitytokens API (``Emulator.control.obs``), and the same
over HTTP under ``/_emulator/obs/``:

| Method and path                          | Body (JSON)                                              |
|------------------------------------------|----------------------------------------------------------|
| POST /_emulator/obs/objects              | {"bucket", "name", "size_bytes", "age_seconds", "image_id"} |
| GET  /_emulator/obs/objects/{bucket}     |                                                          |
| POST /_emulator/obs/faults               | {"route", "failure", "times"} (routes and failures: obs_state) |
| POST /_emulator/obs/credentials          | {"denied": bool, "policy_refused": bool}                 |
| POST /_emulator/obs/credentials/expire   |                                                          |
| POST /_emulator/obs/exports              | {"lost": bool, "backdated_seconds": float}               |
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localdev.emulator.clock import iso_millis
from localdev.emulator.model import StoredObject
from localdev.emulator.obs_state import ObsFailure, ObsRoute
from localdev.emulator.state import EmulatorState

if TYPE_CHECKING:
    from localdev.emulator.control import Control


class ObsControl:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def plant_object(
        self,
        bucket: str,
        name: str,
        *,
        size_bytes: int = 0,
        age_seconds: float = 0.0,
        image_id: str = "",
    ) -> None:
        """Put an object as someone (an earlier export, another tool) did ``age_seconds`` ago."""
        if size_bytes < 0 or age_seconds < 0:
            raise ValueError("size_bytes and age_seconds must not be negative")
        state = self._state
        with state.lock:
            state.buckets[bucket].objects[name] = StoredObject(
                size_bytes, state.now() - age_seconds, image_id, ""
            )

    def objects(self, bucket: str) -> list[dict[str, Any]]:
        """Every object of the bucket with its size and last modification, by name."""
        self._state.settle()
        with self._state.lock:
            stored = dict(self._state.buckets[bucket].objects)
        return [
            {"name": name, "size_bytes": item.size_bytes, "last_modified": iso_millis(item.written_at)}
            for name, item in sorted(stored.items())
        ]

    def inject(self, route: ObsRoute | str, failure: ObsFailure | str, *, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``route`` with ``failure`` (500 or 503)."""
        self._state.obs.inject(ObsRoute(route), ObsFailure(failure), times)

    def set_credentials(self, *, denied: bool | None = None, policy_refused: bool | None = None) -> None:
        """IAM refuses temporary credentials (403), or refuses requests that carry a policy (400)."""
        if denied is not None:
            self._state.obs.credentials_denied = denied
        if policy_refused is not None:
            self._state.obs.policy_refused = policy_refused

    def deny_actions(self, *actions: str) -> None:
        """The IAM user may not do these OBS actions (``obs:bucket:HeadBucket``, ...): 403 AccessDenied,
        whatever temporary credentials say; none given: everything allowed again."""
        self._state.obs.denied_actions = frozenset(actions)

    def set_bucket_metadata_headers(self, sent: bool) -> None:
        """HEAD bucket answers with (True) or without (False) x-obs-storage-class and
        x-obs-bucket-location: without them, clients ask ?storageClass and ?location."""
        self._state.obs.bucket_metadata_headers = sent

    def set_exports(self, *, lost: bool | None = None, backdated_seconds: float | None = None) -> None:
        """Export jobs that finish from now on write no object (IMS still says SUCCESS), or one last
        modified ``backdated_seconds`` before the job began (0: when the job ends, as normal)."""
        if backdated_seconds is not None and backdated_seconds < 0:
            raise ValueError("backdated_seconds must not be negative")
        if lost is not None:
            self._state.obs.exports_lost = lost
        if backdated_seconds is not None:
            self._state.obs.exports_backdated_seconds = backdated_seconds

    def expire_credentials(self) -> int:
        """Make every temporary credential expire now; return how many there are."""
        return self._state.obs.expire_credentials(self._state.now())

    @property
    def credentials_issued(self) -> int:
        return self._state.obs.credentials_issued

    def requests(self, route: ObsRoute | str) -> int:
        return self._state.obs.requests(route)


def _plant(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    control.obs.plant_object(
        str(body["bucket"]),
        str(body["name"]),
        size_bytes=int(body.get("size_bytes", 0)),
        age_seconds=float(body.get("age_seconds", 0)),
        image_id=str(body.get("image_id", "")),
    )
    return {"objects": control.obs.objects(str(body["bucket"]))}


def _inject(control: Control, body: dict[str, Any], match: re.Match[str]) -> Any:
    control.obs.inject(str(body.get("route")), str(body.get("failure")), times=int(body.get("times", 1)))
    return None


ACTIONS: list[tuple[str, str, Callable[[Control, dict[str, Any], re.Match[str]], Any]]] = [
    ("POST", r"/obs/objects", _plant),
    ("GET", r"/obs/objects/(?P<bucket>[^/]+)", lambda c, b, m: {"objects": c.obs.objects(m["bucket"])}),
    ("POST", r"/obs/faults", _inject),
    (
        "POST",
        r"/obs/credentials",
        lambda c, b, m: c.obs.set_credentials(denied=b.get("denied"), policy_refused=b.get("policy_refused")),
    ),
    ("POST", r"/obs/credentials/expire", lambda c, b, m: {"count": c.obs.expire_credentials()}),
    (
        "POST",
        r"/obs/exports",
        lambda c, b, m: c.obs.set_exports(lost=b.get("lost"), backdated_seconds=b.get("backdated_seconds")),
    ),
]
