"""What the target's pre-flight costs a start: requests and time, with a bucket's answers cached or not.

Against the built-in emulator on 127.0.0.1 (so the times are this machine's, not the cloud's round
trips: each request counted here is one round trip to IAM or OBS in the region when deployed). The three
ways are run interleaved, round after round: off (the baseline: no request), cold (no cached answers),
cached (the bucket's answers kept).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.domain.credentials import Credentials
from ims_export.domain.export_request import ExportRequest
from ims_export.runtime import Clients, ImsApi, TokenStore
from ims_export.settings import Settings
from ims_export.steps.preflight import BucketFacts, check_target
from localdev.emulator import DEFAULT_BUCKET, Emulator, ManualClock, seed
from localdev.emulator.obs_state import ObsRoute

ROUNDS = 40
ROUTES = (
    ObsRoute.SECURITY_TOKENS,
    ObsRoute.HEAD_BUCKET,
    ObsRoute.BUCKET_LOCATION,
    ObsRoute.BUCKET_STORAGE_CLASS,
    ObsRoute.HEAD,
)


class _Tokens:
    def __init__(self, token: Any) -> None:
        self.token = token

    def current(self) -> Any:
        return self.token

    def invalidate(self, token: Any) -> None:
        return None


def measure(rounds: int = ROUNDS) -> dict[str, tuple[int, list[float]]]:
    """Each way's requests per start, and its seconds of each round."""
    with Emulator(clock=ManualClock()) as emulator:
        config = emulator.config
        credentials = Credentials(
            user_name=config.user_name, password=config.user_password, domain_name=config.domain_name
        )
        token = IamClient(emulator.iam_url, new_session(), (2.0, 5.0)).issue_token(
            credentials, project_name=config.region
        )
        request = ExportRequest(
            image_id=seed.DEBIAN_SMALL, bucket_url=f"{DEFAULT_BUCKET}:exports/b.qcow2", file_format="qcow2"
        )

        def clients(enabled: bool) -> Clients:
            settings = Settings.model_validate(
                {
                    "iam_endpoint": emulator.iam_url,
                    "obs_endpoint": emulator.obs_url,
                    "preflight_target": enabled,
                }
            )
            return Clients(
                settings=settings,
                tokens=cast(TokenStore, _Tokens(token)),
                ims=cast(ImsApi, None),
                clock=lambda: datetime.now(UTC),
            )

        warm = BucketFacts()
        ways: dict[str, Callable[[], object]] = {
            "off": lambda: check_target(request, clients(False), facts=BucketFacts()),
            "cold": lambda: check_target(request, clients(True), facts=BucketFacts()),
            "cached": lambda: check_target(request, clients(True), facts=warm),
        }
        ways["cached"]()  # fill the cache once
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        requests: dict[str, int] = {}
        for _ in range(rounds):
            for name, way in ways.items():
                before = sum(emulator.control.obs.requests(route) for route in ROUTES)
                started = time.perf_counter()
                way()
                seconds[name].append(time.perf_counter() - started)
                requests[name] = sum(emulator.control.obs.requests(route) for route in ROUTES) - before
    return {name: (requests[name], seconds[name]) for name in ways}


def main(rounds: int = ROUNDS) -> int:
    measured = measure(rounds)
    base = statistics.median(measured["off"][1])
    print(f"pre-flight of the target, {rounds} rounds interleaved, on the emulator (loopback)")
    for name, (requests, seconds) in measured.items():
        median = statistics.median(seconds)
        added = (median - base) * 1000
        print(f"  {name:7s} requests {requests}   median {median * 1000:6.1f} ms   added {added:6.1f} ms")
    return 0
