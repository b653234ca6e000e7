"""IAM POST /v3/auth/tokens against the IAM API reference ("Obtaining a User Token")."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest

from localdev.emulator import Emulator, EmulatorConfig, ManualClock
from localdev.emulator.tokens import token_payload
from tests.emulator.conftest import CloudClient, assert_unauthorized


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_documented_password_body_gets_201_with_the_token_in_the_header(
    emulator: Emulator, clock: ManualClock
) -> None:
    client = CloudClient(emulator)
    response = client.issue_token()

    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    assert token not in response.text, "the token travels in the header, never in the body"
    assert token.startswith("MII")
    assert 5000 <= len(token) <= 12000
    body = response.json()["token"]
    assert _time(body["issued_at"]).timestamp() == clock.now()
    assert _time(body["expires_at"]) - _time(body["issued_at"]) == timedelta(hours=24)
    assert body["expires_at"].endswith("Z") and "." in body["expires_at"]
    assert body["methods"] == ["password"]
    config = emulator.config
    assert body["user"]["name"] == config.user_name
    assert body["user"]["domain"] == {"id": config.domain_id, "name": config.domain_name}
    assert body["project"] == {
        "id": config.project_id,
        "name": "eu-de",
        "domain": {"id": config.domain_id, "name": config.domain_name},
    }
    assert len(body["project"]["id"]) == 32
    assert {role["name"] for role in body["roles"]} >= {"te_admin"}


def test_catalog_points_the_image_service_at_the_emulator(emulator: Emulator) -> None:
    catalog = CloudClient(emulator).issue_token().json()["token"]["catalog"]

    by_type = {entry["type"]: entry for entry in catalog}
    assert len(catalog) >= 3
    image_endpoint = by_type["image"]["endpoints"][0]
    assert image_endpoint["url"] == emulator.base_url
    assert image_endpoint["interface"] == "public"
    assert image_endpoint["region"] == image_endpoint["region_id"] == "eu-de"


def test_nocatalog_drops_the_catalog(emulator: Emulator) -> None:
    client = CloudClient(emulator)
    response = client.session.post(
        f"{emulator.iam_url}/auth/tokens?nocatalog=true", json=client.password_body(), timeout=5
    )
    assert response.status_code == 201
    assert "catalog" not in response.json()["token"]


def test_project_scope_by_id(emulator: Emulator) -> None:
    response = CloudClient(emulator).issue_token(project={"id": emulator.project_id})
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == emulator.project_id


def test_token_wraps_the_token_json_in_a_cms_signed_data_blob(emulator: Emulator) -> None:
    response = CloudClient(emulator).issue_token()
    token = response.headers["X-Subject-Token"]

    blob = base64.b64decode(token.replace("-", "/"))
    assert blob[:2] == b"\x30\x82"  # DER SEQUENCE with a two-byte length: the "MII" prefix
    assert bytes.fromhex("2a864886f70d010702") in blob[:20]  # OID signedData
    payload = token_payload(token)["token"]
    assert payload["project"]["id"] == emulator.project_id
    assert payload["expires_at"] == response.json()["token"]["expires_at"]


def test_each_token_is_different_even_at_the_same_instant(emulator: Emulator) -> None:
    client = CloudClient(emulator)
    first = client.issue_token().headers["X-Subject-Token"]
    second = client.issue_token().headers["X-Subject-Token"]
    assert first != second
    assert emulator.control.tokens_issued == 2


@pytest.mark.parametrize("size", [5000, 8192, 12000])
def test_token_size_is_configurable(clock: ManualClock, size: int) -> None:
    with Emulator(EmulatorConfig(token_size=size), clock) as emulator:
        token = CloudClient(emulator).issue_token().headers["X-Subject-Token"]
    assert size - 4 < len(token) <= size


def test_token_lifetime_is_configurable(clock: ManualClock) -> None:
    with Emulator(EmulatorConfig(token_lifetime_seconds=3600), clock) as emulator:
        body = CloudClient(emulator).issue_token().json()["token"]
    assert _time(body["expires_at"]) - _time(body["issued_at"]) == timedelta(hours=1)


@pytest.mark.parametrize(
    "override",
    [{"password": "wrong-password"}, {"user": "someone-else"}, {"domain": "OTC-EU-DE-other"}],
    ids=["password", "user", "domain"],
)
def test_wrong_credentials_get_the_documented_401(emulator: Emulator, override: dict[str, str]) -> None:
    response = CloudClient(emulator).issue_token(**override)

    assert_unauthorized(response)
    body = response.json()
    assert body["error"] == {"message": body["error"]["message"], "code": 401, "title": "Unauthorized"}
    assert body["error_code"] == "IAM.0062"
    assert "X-Subject-Token" not in response.headers
    assert emulator.control.tokens_issued == 0


def test_locked_account_gets_iam_0061_even_with_the_right_password(emulator: Emulator) -> None:
    emulator.control.set_user(locked=True)
    response = CloudClient(emulator).issue_token()

    assert_unauthorized(response)
    assert response.json()["error_code"] == "IAM.0061"

    emulator.control.set_user(locked=False)
    assert CloudClient(emulator).issue_token().status_code == 201


def test_disabled_user_gets_403_iam_0082(emulator: Emulator) -> None:
    emulator.control.set_user(disabled=True)
    response = CloudClient(emulator).issue_token()
    assert response.status_code == 403
    assert response.json()["error_code"] == "IAM.0082"


@pytest.mark.parametrize("project", [{"name": "eu-nl"}, {"id": "f" * 32}])
def test_unknown_project_gets_400_iam_1109(emulator: Emulator, project: dict[str, str]) -> None:
    response = CloudClient(emulator).issue_token(project=project)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert response.json()["error_code"] == "IAM.1109"
    assert emulator.control.tokens_issued == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"auth": {}}, {"auth": {"identity": {"methods": ["totp"]}}}, ["auth"], "not json"],
    ids=["empty", "no-identity", "no-password-method", "list", "string"],
)
def test_malformed_body_gets_400_and_no_token(emulator: Emulator, body: object) -> None:
    response = CloudClient(emulator).issue_token(body=body)
    assert response.status_code == 400
    assert response.json()["error"]["title"] == "Bad Request"
    assert emulator.control.tokens_issued == 0


def test_domain_scoped_token_is_refused_by_ims(emulator: Emulator) -> None:
    client = CloudClient(emulator)
    body = client.password_body()
    body["auth"]["scope"] = {"domain": {"name": emulator.config.domain_name}}
    response = client.issue_token(body=body)

    assert response.status_code == 201
    assert "project" not in response.json()["token"]
    assert_unauthorized(client.images(token=response.headers["X-Subject-Token"]))


def test_password_never_appears_in_reprs_or_error_bodies(emulator: Emulator) -> None:
    password = emulator.config.user_password
    assert password not in repr(emulator.config)
    assert password not in repr(emulator.state.user)
    response = CloudClient(emulator).issue_token(password="a-wrong-secret-value")
    assert "a-wrong-secret-value" not in response.text
