"""The start function holds no DynamoDB client for its duplicate guard, and builds its hand-over store on
first use only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from ims_export.steps import handover
from localdev.lambda_handlers import FakeLambdaContext
from tests.reliability.conftest import TABLE
from tests.workflow.fakes import BUCKET, IMAGE_ID, FakeIms, make_image, make_settings

CONTEXT = FakeLambdaContext("start", "arn:aws:lambda:eu-central-1:111122223333:function:start")


class Builds:
    """Stands in for the DynamoDB builder of the start function's hand-over store; counts builds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stores: list[str] = []
        monkeypatch.setattr(handover, "dynamodb_handover_store", self.store)
        monkeypatch.setattr(handover, "_STORES", {})

    def store(self, table: str) -> Any:
        self.stores.append(table)
        return None


def start_event(image_id: str = IMAGE_ID) -> dict[str, Any]:
    return {
        "event": {"image_id": image_id, "bucket_url": f"{BUCKET}:exports/x.qcow2", "file_format": "qcow2"}
    }


@pytest.mark.usefixtures("guarded_clients")
def test_a_start_waiting_for_its_image_builds_no_store(
    start_app: Any, counting_ims: FakeIms, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = Builds(monkeypatch)
    counting_ims.add_image(make_image("0e2b5c1d-8f3a-4b6c-9d7e-2a1b3c4d5e6f", status="saving"))

    answer = start_app.lambda_handler(start_event("0e2b5c1d-8f3a-4b6c-9d7e-2a1b3c4d5e6f"), CONTEXT)

    assert answer["phase"] == "waiting_for_image"
    assert builds.stores == []


@pytest.mark.usefixtures("guarded_clients")
def test_an_export_answers_with_its_claim_for_the_state_machine_and_builds_no_store(
    start_app: Any, counting_ims: FakeIms, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = Builds(monkeypatch)

    answer = start_app.lambda_handler(start_event(), CONTEXT)

    assert answer["phase"] == "claiming"
    assert answer["claim"]["TableName"] == TABLE
    assert counting_ims.calls_to("export_image") == []  # the POST waits for the claim
    assert builds.stores == []


def test_a_store_built_on_first_use_forwards_to_the_built_one(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Mapping[str, Any]]] = []

    class Store:
        def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
            calls.append(
                ("put", {"ticket": ticket, "execution_name": execution_name, "expires_at": expires_at})
            )

        def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
            calls.append(("claim", {"ticket": ticket, "execution_name": execution_name, "now": now}))
            return {"job_id": "j"}

    built: list[Store] = []

    def build(table: str) -> Store:
        built.append(Store())
        return built[-1]

    monkeypatch.setattr(handover, "dynamodb_handover_store", build)
    monkeypatch.setattr(handover, "_STORES", {})
    lazy = handover.handover_store_for(make_settings(idempotency_table=TABLE))
    assert lazy is not None
    assert built == []

    lazy.put("t", {"job_id": "j"}, execution_name="e", expires_at=9)
    claimed = lazy.claim("t", execution_name="e", now=5)

    assert len(built) == 1
    assert claimed == {"job_id": "j"}
    assert calls == [
        ("put", {"ticket": "t", "execution_name": "e", "expires_at": 9}),
        ("claim", {"ticket": "t", "execution_name": "e", "now": 5}),
    ]
