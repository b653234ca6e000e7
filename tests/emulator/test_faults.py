"""Fault injection per route, and the request counters tests rely on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from localdev.emulator import ControlError, Emulator, FaultKind, Route, seed
from tests.emulator.conftest import CloudClient, assert_ims_error

Call = Callable[[CloudClient], requests.Response]
QCOW2 = {"bucket_url": "ims-export-demo:f.qcow2", "file_format": "qcow2"}

CALLS: dict[Route, Call] = {
    Route.IAM_TOKEN: lambda client: client.issue_token(),
    Route.EXPORT: lambda client: client.export(seed.DEBIAN_SMALL, QCOW2),
    Route.JOB: lambda client: client.job("0" * 32),
    Route.JOB_PROGRESS: lambda client: client.progress("0" * 32),
    Route.IMAGE_LIST: lambda client: client.images(),
}
HEALTHY_STATUS = {
    Route.IAM_TOKEN: 201,
    Route.EXPORT: 200,
    Route.JOB: 404,
    Route.JOB_PROGRESS: 404,
    Route.IMAGE_LIST: 200,
}


@pytest.mark.parametrize("route", list(Route))
def test_throttled_gives_429_with_retry_after_then_recovers(
    client: CloudClient, emulator: Emulator, route: Route
) -> None:
    emulator.control.inject(route, FaultKind.THROTTLED, times=2, retry_after_seconds=7)

    for _ in range(2):
        response = CALLS[route](client)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "7"
        assert response.json()["error_code"] == "APIG.0308"
    assert CALLS[route](client).status_code == HEALTHY_STATUS[route]
    assert emulator.control.requests(route) == 3 + (1 if route is Route.IAM_TOKEN else 0)


def test_iam_throttled_gives_429_iam_0012(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject("iam_token", "iam_throttled", retry_after_seconds=3)
    response = client.issue_token()

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["error_code"] == "IAM.0012"
    assert response.json()["error"]["code"] == 429
    assert emulator.control.tokens_issued == 1, "only the login of the fixture"


def test_flow_control_gives_img_0060_and_starts_nothing(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject(Route.EXPORT, FaultKind.FLOW_CONTROL)
    assert_ims_error(client.export(seed.DEBIAN_SMALL, QCOW2), "IMG.0060")
    assert emulator.control.export_jobs() == 0
    assert client.export(seed.DEBIAN_SMALL, QCOW2).status_code == 200


@pytest.mark.parametrize(("kind", "status"), [(FaultKind.SERVER_ERROR, 500), (FaultKind.UNAVAILABLE, 503)])
@pytest.mark.parametrize("route", list(Route))
def test_server_errors(
    client: CloudClient, emulator: Emulator, route: Route, kind: FaultKind, status: int
) -> None:
    emulator.control.inject(route, kind)
    assert CALLS[route](client).status_code == status
    assert CALLS[route](client).status_code == HEALTHY_STATUS[route]
    assert emulator.control.export_jobs() == (1 if route is Route.EXPORT else 0)


def test_slow_response_trips_a_client_read_timeout(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject(Route.IMAGE_LIST, FaultKind.SLOW, delay_seconds=0.3)
    with pytest.raises(requests.ReadTimeout):
        client.session.get(
            f"{emulator.base_url}/v2/cloudimages",
            headers={"X-Auth-Token": client.token or ""},
            timeout=(1, 0.05),
        )


def test_slow_response_still_answers_normally(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject(Route.EXPORT, FaultKind.SLOW, delay_seconds=0.01)
    assert client.export(seed.DEBIAN_SMALL, QCOW2).status_code == 200
    assert emulator.control.export_jobs(seed.DEBIAN_SMALL) == 1


@pytest.mark.parametrize("route", list(Route))
def test_dropped_connection_handles_nothing(client: CloudClient, emulator: Emulator, route: Route) -> None:
    emulator.control.inject(route, FaultKind.DROP)
    with pytest.raises(requests.ConnectionError):
        CALLS[route](client)
    assert emulator.control.export_jobs() == 0
    assert emulator.control.tokens_issued == 1
    assert CALLS[route](client).status_code == HEALTHY_STATUS[route]


def test_drop_after_processing_loses_the_answer_but_starts_the_job(
    client: CloudClient, emulator: Emulator
) -> None:
    emulator.control.inject(Route.EXPORT, FaultKind.DROP_AFTER_PROCESSING)
    with pytest.raises(requests.ConnectionError):
        client.export(seed.DEBIAN_SMALL, QCOW2)

    assert emulator.control.export_jobs(seed.DEBIAN_SMALL) == 1
    assert_ims_error(client.export(seed.DEBIAN_SMALL, QCOW2), "IMG.0148")


def test_skip_lets_requests_through_before_the_fault(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject(Route.IMAGE_LIST, FaultKind.UNAVAILABLE, times=2, skip=1)
    assert emulator.control.pending_faults() == {"image_list": 2}

    statuses = [client.images().status_code for _ in range(4)]

    assert statuses == [200, 503, 503, 200]
    assert emulator.control.pending_faults() == {}


def test_faults_queue_in_order_and_can_be_cleared(client: CloudClient, emulator: Emulator) -> None:
    emulator.control.inject(Route.IMAGE_LIST, FaultKind.THROTTLED)
    emulator.control.inject(Route.IMAGE_LIST, FaultKind.SERVER_ERROR)
    assert [client.images().status_code for _ in range(2)] == [429, 500]

    emulator.control.inject(Route.IMAGE_LIST, FaultKind.SERVER_ERROR, times=5)
    emulator.control.clear_faults()
    assert client.images().status_code == 200


@pytest.mark.parametrize(
    "arguments",
    [
        {"route": "nowhere", "kind": "throttled"},
        {"route": "export", "kind": "explode"},
        {"route": "export", "kind": "slow", "times": 0},
        {"route": "export", "kind": "slow", "delay_seconds": -1},
    ],
)
def test_bad_fault_requests_are_refused(emulator: Emulator, arguments: dict[str, object]) -> None:
    route, kind = str(arguments.pop("route")), str(arguments.pop("kind"))
    with pytest.raises(ControlError):
        emulator.control.inject(route, kind, **arguments)  # type: ignore[arg-type]
    assert emulator.control.pending_faults() == {}


def test_counters_snapshot(client: CloudClient, emulator: Emulator) -> None:
    client.export(seed.DEBIAN_SMALL, QCOW2)
    client.export(seed.DEBIAN_SMALL, QCOW2)  # IMG.0148: counted as a request, not as a job
    client.images()

    counters = emulator.control.counters()
    assert counters["requests"] == {
        "iam_token": 1,
        "export": 2,
        "job": 0,
        "job_progress": 0,
        "image_list": 1,
    }
    assert counters["tokens_issued"] == 1
    assert counters["export_jobs"] == {seed.DEBIAN_SMALL: 1}

    emulator.control.reset_counters()
    assert emulator.control.counters()["requests"]["export"] == 0
