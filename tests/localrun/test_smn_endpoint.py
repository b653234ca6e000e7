"""``make run EVENT=body.json VIA=smn``: the file is POSTed to the SMN endpoint, through the request
mapping template.yaml defines, and the execution it starts runs to its end on the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import requests

from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from ims_export.smn.verify import SmnVerifier
from localdev.emulator import seed
from tests.localrun.conftest import LocalRun, assert_no_secrets
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import TOPIC_URN, SmnSigner, create_image_trace, notification_body

pytestmark = pytest.mark.slow


@pytest.fixture
def body_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(body: str) -> Path:
        path = tmp_path / "body.json"
        path.write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def signer() -> SmnSigner:
    return SmnSigner.generate()


@pytest.fixture
def trusted_signer(signer: SmnSigner) -> Iterator[SmnSigner]:
    """The start function verifies with the test key (SMN's certificate cannot be fetched offline),
    accepting the fixed timestamp of the test messages."""
    verifier = SmnVerifier(
        RecordingFetcher(signer.pem), allowed_topic_urns={TOPIC_URN}, max_age=timedelta(days=3650)
    )
    SMN_HANDLERS.clear()
    SMN_HANDLERS[((TOPIC_URN,), None)] = partial(
        handle_smn_message, verifier=verifier, session=requests.Session()
    )
    yield signer
    SMN_HANDLERS.clear()


def test_without_an_allowed_topic_there_is_no_endpoint_to_post_to(
    local_run: Callable[..., LocalRun], body_file: Callable[[str], Path]
) -> None:
    result = local_run(body_file("{}"), via="smn")

    assert result.exit_code == 2
    assert "the SMN endpoint is not deployed" in result.stderr
    assert "execution arn:" not in result.stderr


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(
            {"image_id": seed.ROCKY_DB, "bucket_url": "attacker-bucket:x.qcow2", "file_format": "qcow2"}
        ),
        json.dumps({"resume": {"ticket": "0" * 32}}),
        "{}",
        "not json at all",
    ],
    ids=["manual-trigger", "resume", "empty-object", "not-json"],
)
def test_a_body_that_is_not_a_signed_smn_message_is_refused_without_a_call(
    local_run: Callable[..., LocalRun], body_file: Callable[[str], Path], body: str
) -> None:
    result = local_run(body_file(body), via="smn", SMN_ALLOWED_TOPIC_URNS=TOPIC_URN)

    assert result.exit_code == 2, result.stderr  # refused before any cloud call, as the README says
    assert result.output["status"] == "REFUSED"
    assert result.output["error"] == "SmnMessageRefusedError"
    assert "the SMN endpoint (POST /smn)" in result.stderr
    assert "  -> RequestRefused" in result.stderr.splitlines()
    assert "PutOutcomeEvent" not in result.stderr
    assert result.control is not None
    assert result.control.tokens_issued == 0
    assert result.control.export_jobs() == 0


def test_a_signed_create_image_notification_exports_the_image(
    local_run: Callable[..., LocalRun], body_file: Callable[[str], Path], trusted_signer: SmnSigner
) -> None:
    signed = trusted_signer.sign(notification_body(json.dumps(create_image_trace(seed.ROCKY_DB))))

    result = local_run(body_file(json.dumps(signed)), via="smn", SMN_ALLOWED_TOPIC_URNS=TOPIC_URN)

    assert result.exit_code == 0, result.stderr
    assert result.output["status"] == "SUCCEEDED"
    assert result.output["image_id"] == seed.ROCKY_DB
    assert result.control is not None
    assert result.control.export_jobs(seed.ROCKY_DB) == 1
    assert_no_secrets(result)


SMN_SAMPLE = Path(__file__).parents[2] / "events" / "smn" / "image-created.json"


def test_the_smn_sample_is_refused_as_it_is_for_its_signature(
    local_run: Callable[..., LocalRun], trusted_signer: SmnSigner
) -> None:
    # events/smn/image-created.json is an SMN delivery in every respect but its signature.
    sample = json.loads(SMN_SAMPLE.read_text(encoding="utf-8"))

    result = local_run(SMN_SAMPLE, via="smn", SMN_ALLOWED_TOPIC_URNS=sample["topic_urn"])

    assert result.output["status"] == "REFUSED", result.stderr
    assert result.exit_code == 2
    assert result.output["error"] == "SmnMessageRefusedError"
    assert "signature" in json.dumps(result.output["cause"])  # not its age: the test verifier allows it
    assert result.control is not None
    assert (result.control.tokens_issued, result.control.export_jobs()) == (0, 0)


def test_the_smn_sample_signed_exports_the_image_it_names(
    local_run: Callable[..., LocalRun], body_file: Callable[[str], Path], trusted_signer: SmnSigner
) -> None:
    sample = json.loads(SMN_SAMPLE.read_text(encoding="utf-8"))
    assert sample["topic_urn"] == TOPIC_URN
    signed = trusted_signer.sign({key: value for key, value in sample.items() if key != "signature"})

    result = local_run(body_file(json.dumps(signed)), via="smn", SMN_ALLOWED_TOPIC_URNS=TOPIC_URN)

    assert result.exit_code == 0, result.stderr
    assert result.output["status"] == "SUCCEEDED"
    assert result.output["image_id"] == json.loads(sample["message"])["resource_id"] == seed.ROCKY_DB
