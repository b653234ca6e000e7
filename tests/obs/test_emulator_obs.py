"""The emulated OBS with the real clients: objects that exports write, planted ones, paging, delete,
signature checking against the temporary credentials the emulator issued, policies, injected 5xx."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
import requests

from ims_export.cloud.temporary_credentials import (
    TemporaryCredentials,
    TemporaryCredentialsClient,
    bucket_access_policy,
)
from ims_export.domain.objects import ObjectInfo, ObjectMissing
from ims_export.errors import ObsAccessDeniedError, UpstreamThrottledError, UpstreamUnavailableError
from localdev.emulator import DEFAULT_BUCKET, Emulator, ManualClock, seed
from tests.obs.conftest import OTHER_BUCKET, TIMEOUT, StaticTokens, obs_client_for

EXPORTED = "exports/debian-12-web.qcow2"


@pytest.fixture
def credentials(credentials_client: TemporaryCredentialsClient) -> TemporaryCredentials:
    return credentials_client.issue()


def _export(emulator: Emulator, tokens: StaticTokens, clock: ManualClock) -> str:
    response = requests.post(
        f"{emulator.base_url}/v1/cloudimages/{seed.DEBIAN_SMALL}/file",
        json={"bucket_url": f"{DEFAULT_BUCKET}:{EXPORTED}", "file_format": "qcow2"},
        headers={"X-Auth-Token": tokens.current().value.get_secret_value()},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    job_id: str = response.json()["job_id"]
    clock.advance(3600)
    return job_id


def test_object_of_a_finished_export_is_visible_with_size_and_time(
    emulator: Emulator,
    emulator_tokens: StaticTokens,
    clock: ManualClock,
    credentials_client: TemporaryCredentialsClient,
) -> None:
    before = obs_client_for(emulator, credentials_client.issue())
    assert before.head_object(DEFAULT_BUCKET, EXPORTED) == ObjectMissing(bucket=DEFAULT_BUCKET, key=EXPORTED)

    job_id = _export(emulator, emulator_tokens, clock)

    client = obs_client_for(emulator, credentials_client.issue())  # the first ones have expired meanwhile
    info = client.head_object(DEFAULT_BUCKET, EXPORTED)
    job = emulator.control.job(job_id)
    assert isinstance(info, ObjectInfo)
    assert info.size_bytes == emulator.state.jobs[job_id].size_bytes > 0
    end_time = datetime.fromisoformat(job["end_time"].replace("Z", "+00:00"))
    assert info.last_modified == end_time.replace(microsecond=0)  # HTTP dates have whole seconds
    assert info.etag
    listed = client.list_objects(DEFAULT_BUCKET, "exports/")
    assert [(item.key, item.size_bytes) for item in listed] == [(EXPORTED, info.size_bytes)]
    assert listed[0].last_modified == end_time.replace(microsecond=end_time.microsecond // 1000 * 1000)
    assert client.object_url(DEFAULT_BUCKET, EXPORTED) == f"{emulator.obs_url}/{DEFAULT_BUCKET}/{EXPORTED}"


def test_listing_pages_over_planted_objects_and_filters_by_prefix(
    emulator: Emulator, credentials: TemporaryCredentials
) -> None:
    obs = emulator.control.obs
    names = [f"exports/img-{index:02d}.qcow2" for index in range(7)]
    for index, name in enumerate(names):
        obs.plant_object(DEFAULT_BUCKET, name, size_bytes=index, age_seconds=86400 * (7 - index))
    obs.plant_object(DEFAULT_BUCKET, "other/x.qcow2")
    client = obs_client_for(emulator, credentials)

    listed = client.list_objects(DEFAULT_BUCKET, "exports/", page_size=3)

    assert [item.key for item in listed] == names
    assert [item.size_bytes for item in listed] == list(range(7))
    assert listed[0].last_modified is not None and listed[6].last_modified is not None
    assert (listed[6].last_modified - listed[0].last_modified).days == 6
    assert obs.requests("obs_list") == 3


def test_delete_removes_only_the_named_object(emulator: Emulator, credentials: TemporaryCredentials) -> None:
    obs = emulator.control.obs
    obs.plant_object(DEFAULT_BUCKET, "exports/old.qcow2")
    obs.plant_object(DEFAULT_BUCKET, "exports/keep.qcow2")
    client = obs_client_for(emulator, credentials)

    client.delete_object(DEFAULT_BUCKET, "exports/old.qcow2")
    client.delete_object(DEFAULT_BUCKET, "exports/never-there.qcow2")

    assert [item["name"] for item in obs.objects(DEFAULT_BUCKET)] == ["exports/keep.qcow2"]


def test_wrong_signature_is_signature_does_not_match(
    emulator: Emulator, credentials: TemporaryCredentials
) -> None:
    forged = credentials.model_copy(
        update={"secret_access_key": type(credentials.secret_access_key)("not-the-secret-key-0000")}
    )
    with pytest.raises(ObsAccessDeniedError) as caught:
        obs_client_for(emulator, forged).list_objects(DEFAULT_BUCKET, "")
    assert caught.value.code == "SignatureDoesNotMatch"
    assert credentials.security_token.get_secret_value() not in str(caught.value)


def test_raw_answer_to_a_bad_signature_is_obs_xml(
    emulator: Emulator, credentials: TemporaryCredentials
) -> None:
    signature = base64.b64encode(b"x" * 20).decode()
    response = requests.get(
        f"{emulator.obs_url}/{DEFAULT_BUCKET}",
        headers={
            "Authorization": f"OBS {credentials.access_key_id}:{signature}",
            "Date": "Mon, 06 Jan 2025 08:00:00 GMT",
            "x-obs-security-token": credentials.security_token.get_secret_value(),
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.content


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"access_key_id": "UNKNOWNACCESSKEY0000"}, "InvalidAccessKeyId"),
        ({"security_token": "gAAAAAB-another-token-of-the-right-kind"}, "AccessDenied"),
    ],
)
def test_unknown_key_or_foreign_security_token_is_refused(
    emulator: Emulator, credentials: TemporaryCredentials, change: dict[str, str], code: str
) -> None:
    values = {
        "access_key_id": credentials.access_key_id,
        "secret_access_key": credentials.secret_access_key,
        "security_token": credentials.security_token,
        "expires_at": credentials.expires_at,
        **change,
    }
    with pytest.raises(ObsAccessDeniedError) as caught:
        obs_client_for(emulator, TemporaryCredentials.model_validate(values)).head_object(DEFAULT_BUCKET, "a")
    assert caught.value.status == 403
    assert caught.value.code in (None, code), "HEAD answers carry no body"


def test_expired_credentials_are_refused(
    emulator: Emulator, clock: ManualClock, credentials: TemporaryCredentials
) -> None:
    client = obs_client_for(emulator, credentials)
    client.list_objects(DEFAULT_BUCKET, "")
    clock.advance(901)

    with pytest.raises(ObsAccessDeniedError, match="expired"):
        client.list_objects(DEFAULT_BUCKET, "")


def test_policy_narrows_what_the_credentials_may_do(
    emulator: Emulator, credentials_client: TemporaryCredentialsClient
) -> None:
    emulator.control.obs.plant_object(DEFAULT_BUCKET, "exports/a.qcow2")
    emulator.control.obs.plant_object(OTHER_BUCKET, "b.qcow2")
    client = obs_client_for(emulator, credentials_client.issue(policy=bucket_access_policy(DEFAULT_BUCKET)))

    assert isinstance(client.head_object(DEFAULT_BUCKET, "exports/a.qcow2"), ObjectInfo)
    assert [item.key for item in client.list_objects(DEFAULT_BUCKET, "")] == ["exports/a.qcow2"]
    with pytest.raises(ObsAccessDeniedError):
        client.list_objects(OTHER_BUCKET, "")
    with pytest.raises(ObsAccessDeniedError):
        client.delete_object(DEFAULT_BUCKET, "exports/a.qcow2")

    deleting = obs_client_for(
        emulator, credentials_client.issue(policy=bucket_access_policy(DEFAULT_BUCKET, allow_delete=True))
    )
    deleting.delete_object(DEFAULT_BUCKET, "exports/a.qcow2")
    assert emulator.control.obs.objects(DEFAULT_BUCKET) == []


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [
        ("internal_error", UpstreamUnavailableError),
        ("service_unavailable", UpstreamUnavailableError),
        ("slow_down", UpstreamThrottledError),
    ],
)
def test_injected_5xx_then_success(
    emulator: Emulator, credentials: TemporaryCredentials, failure: str, error_class: type[Exception]
) -> None:
    emulator.control.obs.plant_object(DEFAULT_BUCKET, "exports/a.qcow2", size_bytes=42)
    emulator.control.obs.inject("obs_list", failure, times=2)
    emulator.control.obs.inject("obs_head", failure)
    client = obs_client_for(emulator, credentials)

    for _ in range(2):
        with pytest.raises(error_class):
            client.list_objects(DEFAULT_BUCKET, "exports/")
    assert [item.size_bytes for item in client.list_objects(DEFAULT_BUCKET, "exports/")] == [42]
    with pytest.raises(UpstreamUnavailableError):  # a HEAD answer has no body to name SlowDown
        client.head_object(DEFAULT_BUCKET, "exports/a.qcow2")
    info = client.head_object(DEFAULT_BUCKET, "exports/a.qcow2")
    assert isinstance(info, ObjectInfo) and info.size_bytes == 42


def test_obs_control_over_http(emulator: Emulator) -> None:
    base = f"{emulator.base_url}/_emulator/obs"
    planted = requests.post(
        f"{base}/objects",
        json={"bucket": DEFAULT_BUCKET, "name": "exports/x.qcow2", "size_bytes": 7, "age_seconds": 60},
        timeout=TIMEOUT,
    )
    assert planted.status_code == 200, planted.text
    listed = requests.get(f"{base}/objects/{DEFAULT_BUCKET}", timeout=TIMEOUT).json()["objects"]
    assert listed == [
        {"name": "exports/x.qcow2", "size_bytes": 7, "last_modified": "2025-01-06T07:59:00.000Z"}
    ]
    assert requests.post(
        f"{base}/faults", json={"route": "obs_list", "failure": "slow_down"}, timeout=TIMEOUT
    ).ok
    assert (
        requests.post(
            f"{base}/faults", json={"route": "nowhere", "failure": "x"}, timeout=TIMEOUT
        ).status_code
        == 400
    )
    assert requests.post(f"{base}/credentials", json={"denied": True}, timeout=TIMEOUT).ok
    assert emulator.state.obs.credentials_denied
    assert requests.get(f"{base}/objects/no-such-bucket", timeout=TIMEOUT).status_code == 404


def test_ims_routes_are_not_taken_for_buckets(emulator: Emulator) -> None:
    response = requests.get(f"{emulator.base_url}/v2/cloudimages", timeout=TIMEOUT)
    assert response.status_code == 401, "IMS answers, not OBS"
    assert response.headers["Content-Type"].startswith("application/json")
