"""The target's pre-flight before the export POST, against the emulated OBS: each rule refused with its
name, what was found and what to do; answers that prove nothing let the export go with a warning; a
bucket's answers cached; off when PREFLIGHT_TARGET is false."""

from __future__ import annotations

from typing import Any

import pytest

from ims_export.domain.export_request import ExportRequest
from ims_export.errors import ExportTargetError, ObjectAlreadyExistsError
from ims_export.steps.preflight import BucketFacts, check_target
from localdev.emulator import DEFAULT_BUCKET, Emulator, seed
from localdev.emulator.obs_state import ObsFailure, ObsRoute
from tests.obs.conftest import StaticTokens
from tests.obs.test_verify_step import clients_for

KEY = "exports/web.qcow2"


def request_for(bucket: str = DEFAULT_BUCKET, key: str = KEY) -> ExportRequest:
    return ExportRequest(image_id=seed.DEBIAN_SMALL, bucket_url=f"{bucket}:{key}", file_format="qcow2")


@pytest.fixture
def check(emulator: Emulator, emulator_tokens: StaticTokens) -> Any:
    facts = BucketFacts()

    def run(request: ExportRequest | None = None, **settings: Any) -> tuple[str, ...]:
        clients = clients_for(emulator, emulator_tokens, **settings)
        return check_target(request or request_for(), clients, facts=facts)

    return run


def test_a_standard_bucket_in_the_region_without_the_object_passes_without_warnings(
    check: Any, emulator: Emulator
) -> None:
    assert check() == ()
    obs = emulator.control.obs
    assert (obs.requests(ObsRoute.HEAD_BUCKET), obs.requests(ObsRoute.HEAD)) == (1, 1)


@pytest.mark.parametrize(
    ("bucket", "code", "named"),
    [
        (seed.ARCHIVE_BUCKET, "TargetBucketNotStandard", ["Archive (COLD)", "Standard", "OBS console"]),
        (seed.OTHER_REGION_BUCKET, "TargetBucketInAnotherRegion", [seed.OTHER_REGION, "eu-de", "IMG.0058"]),
        ("no-such-bucket", "TargetBucketNotFound", ["no bucket no-such-bucket", "IMG.0069", "create it"]),
    ],
    ids=["cold", "other-region", "missing"],
)
def test_a_bucket_that_breaks_a_rule_is_refused_naming_rule_finding_and_fix(
    check: Any, bucket: str, code: str, named: list[str]
) -> None:
    with pytest.raises(ExportTargetError) as refused:
        check(request_for(bucket))

    assert refused.value.code == code
    for text in named:
        assert text in refused.value.message


def test_an_object_that_exists_is_refused_before_ims_would(check: Any, emulator: Emulator) -> None:
    emulator.control.put_object(DEFAULT_BUCKET, KEY, size_bytes=7)

    with pytest.raises(ObjectAlreadyExistsError) as refused:
        check()

    assert refused.value.code == "TargetObjectExists"
    assert f"{KEY} exists already in bucket {DEFAULT_BUCKET} (7 bytes)" in refused.value.message
    assert "move or delete it" in refused.value.message


def test_without_the_metadata_headers_the_sub_resources_are_asked(check: Any, emulator: Emulator) -> None:
    obs = emulator.control.obs
    obs.set_bucket_metadata_headers(False)

    with pytest.raises(ExportTargetError, match="Archive"):
        check(request_for(seed.ARCHIVE_BUCKET))

    assert (obs.requests(ObsRoute.BUCKET_STORAGE_CLASS), obs.requests(ObsRoute.BUCKET_LOCATION)) == (1, 1)


@pytest.mark.parametrize("route", [ObsRoute.HEAD_BUCKET, ObsRoute.HEAD, ObsRoute.SECURITY_TOKENS])
def test_an_answer_that_proves_nothing_lets_the_export_go_with_a_warning(
    check: Any, emulator: Emulator, route: ObsRoute
) -> None:
    emulator.control.obs.inject(route, ObsFailure.INTERNAL_ERROR)

    warnings = check()

    [warning] = warnings
    assert "could not be checked before the export" in warning
    assert "UpstreamUnavailableError" in warning


def test_no_permission_for_the_buckets_metadata_is_a_warning_and_the_object_is_still_checked(
    check: Any, emulator: Emulator
) -> None:
    emulator.control.obs.deny_actions("obs:bucket:HeadBucket")
    emulator.control.put_object(DEFAULT_BUCKET, KEY)

    with pytest.raises(ObjectAlreadyExistsError):
        check()


@pytest.mark.parametrize(("cache_seconds", "bucket_heads"), [(300, 1), (0, 2)])
def test_a_buckets_answers_are_cached_and_the_object_asked_every_time(
    check: Any, emulator: Emulator, cache_seconds: int, bucket_heads: int
) -> None:
    obs = emulator.control.obs

    check(preflight_cache_seconds=cache_seconds)
    check(preflight_cache_seconds=cache_seconds)

    assert (obs.requests(ObsRoute.HEAD_BUCKET), obs.requests(ObsRoute.HEAD)) == (bucket_heads, 2)
    assert obs.credentials_issued == 2  # temporary credentials live in one check only


def test_off_it_makes_no_request(check: Any, emulator: Emulator) -> None:
    assert check(request_for(seed.ARCHIVE_BUCKET), preflight_target=False) == ()
    assert emulator.control.obs.requests(ObsRoute.HEAD_BUCKET) == 0
    assert emulator.control.obs.credentials_issued == 0


def test_a_buckets_answers_expire_counted_from_their_read_not_from_their_last_use(
    emulator: Emulator, emulator_tokens: StaticTokens
) -> None:
    now = [0.0]
    facts = BucketFacts(monotonic=lambda: now[0])
    clients = clients_for(emulator, emulator_tokens, preflight_cache_seconds=300)
    obs = emulator.control.obs

    for moment in (0.0, 200.0, 299.0, 301.0):  # used every 100 s or so: still read again after 300 s
        now[0] = moment
        check_target(request_for(), clients, facts=facts)

    assert obs.requests(ObsRoute.HEAD_BUCKET) == 2
