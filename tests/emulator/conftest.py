"""An emulator on a manual clock per test, and a thin client that speaks the documented API with requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from localdev.emulator import Emulator, EmulatorConfig, ManualClock

TIMEOUT = 5.0
EXAMPLE_BUCKET = "ims-image"  # the bucket of the documented export example


class CloudClient:
    """Just enough of an IAM/IMS client to test the emulator through HTTP."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.session = requests.Session()
        self.token: str | None = None

    def password_body(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        project: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        config = self.emulator.config
        return {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user or config.user_name,
                            "password": password or config.user_password,
                            "domain": {"name": domain or config.domain_name},
                        }
                    },
                },
                "scope": {"project": project or {"name": config.region}},
            }
        }

    def issue_token(self, body: Any = None, **overrides: Any) -> requests.Response:
        return self.session.post(
            f"{self.emulator.iam_url}/auth/tokens",
            json=self.password_body(**overrides) if body is None else body,
            headers={"Content-Type": "application/json;charset=utf8"},
            timeout=TIMEOUT,
        )

    def login(self) -> str:
        response = self.issue_token()
        assert response.status_code == 201, response.text
        self.token = response.headers["X-Subject-Token"]
        return self.token

    def _headers(self, token: str | None) -> dict[str, str]:
        token = token if token is not None else self.token
        return {"X-Auth-Token": token} if token else {}

    def export(
        self, image_id: str, body: Any = None, *, token: str | None = None, **fields: Any
    ) -> requests.Response:
        if body is None:
            body = {"bucket_url": "ims-export-demo:exports/image.qcow2", "file_format": "qcow2"}
            body.update(fields)
        return self.session.post(
            f"{self.emulator.base_url}/v1/cloudimages/{image_id}/file",
            json=body,
            headers=self._headers(token),
            timeout=TIMEOUT,
        )

    def job(
        self, job_id: str, *, project_id: str | None = None, token: str | None = None
    ) -> requests.Response:
        project_id = project_id or self.emulator.project_id
        return self.session.get(
            f"{self.emulator.base_url}/v1/{project_id}/jobs/{job_id}",
            headers=self._headers(token),
            timeout=TIMEOUT,
        )

    def progress(self, job_id: str, *, token: str | None = None) -> requests.Response:
        return self.session.get(
            f"{self.emulator.base_url}/v1/cloudimages/job/{job_id}",
            headers=self._headers(token),
            timeout=TIMEOUT,
        )

    def images(self, params: Any = None, *, token: str | None = None) -> requests.Response:
        return self.session.get(
            f"{self.emulator.base_url}/v2/cloudimages",
            params=params,
            headers=self._headers(token),
            timeout=TIMEOUT,
        )

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(
            method, f"{self.emulator.base_url}/_emulator{path}", json=body, timeout=TIMEOUT
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(buckets=("ims-export-demo", EXAMPLE_BUCKET))


@pytest.fixture
def emulator(config: EmulatorConfig, clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(config, clock) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Iterator[CloudClient]:
    cloud = CloudClient(emulator)
    cloud.login()
    yield cloud
    cloud.session.close()


def assert_ims_error(response: requests.Response, code: str, status: int = 400) -> None:
    """The documented IMS error body: exactly ``{"error": {"message": str, "code": "IMG.xxxx"}}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "code"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_unauthorized(response: requests.Response) -> None:
    """The documented 401 body: ``{"error": {"message": ..., "code": 401, "title": "Unauthorized"}}``."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == 401
    assert error["title"] == "Unauthorized"
    assert error["message"]
