"""Fuzzing the start step: thousands of hostile events, each a named refusal or a valid order.

Valid events of every trigger (manual, schedule, EventBridge image-created and scheduled events, a CTS
trace, an SMN delivery with a signed message, a continuation) are mutated at a random place: a value of
another type, unicode and control characters, texts up to 256 KB, a key dropped or added. Each goes
through the real start handler, as the state machine calls it. A refusal must be an
InvalidRequestError (SmnMessageRefusedError, HandOverNotFoundError...) with no IAM or IMS call; an
accepted event must be a valid order (IMS may still refuse it, with a named error); nothing else may
escape. The test prints the figures (docs/security.md, "Entry points and what they can do").
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ims_export import runtime
from ims_export.errors import ImsExportError, InvalidRequestError
from ims_export.smn.delivery import handle_smn_message
from ims_export.smn.handler import HANDLERS as SMN_HANDLERS
from ims_export.smn.verify import SmnVerifier
from localdev.lambda_handlers import FakeLambdaContext, load_function_module
from tests.notifications.conftest import RecordingFetcher
from tests.notifications.smn_signing import NOW, TOPIC_URN, SmnSigner, create_image_trace, notification_body
from tests.reliability.conftest import CountingTokens
from tests.reliability.test_duplicates import IMAGE_CREATED
from tests.workflow.conftest import FUNCTIONS
from tests.workflow.fakes import BUCKET, IMAGE_ID, FakeIms, make_clients, make_image, make_settings

EXAMPLES = 2000
SIGNER = SmnSigner.generate()
SIGNED_NOTIFICATION = json.dumps(SIGNER.sign(notification_body(json.dumps(create_image_trace(IMAGE_ID)))))
VALID_EVENTS: dict[str, Any] = {
    "manual": {"image_id": IMAGE_ID, "bucket_url": f"{BUCKET}:exports/x.qcow2", "file_format": "qcow2"},
    "schedule": {
        "trigger": "schedule",
        "image_id": IMAGE_ID,
        "schedule_arn": "arn:aws:scheduler:eu-central-1:123456789012:schedule/default/x",
        "scheduled_time": "2026-11-27T02:00:00Z",
    },
    "image_created": {**IMAGE_CREATED, "detail": {"image_id": IMAGE_ID, "is_quick_export": True}},
    "scheduled_event": {
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-11-27T02:00:00Z",
        "detail": {"image_id": IMAGE_ID},
    },
    "cts": {
        "id": "9a1c2e3f",
        "detail-type": "CTS Trace",
        "source": "ims-export.cts",
        "time": "2026-11-27T08:16:40Z",
        "detail": {
            "trace_id": "e2b6f1a8-7c3d-11ef-9a51-286ed488ce70",
            "trace_name": "createImage",
            "trace_rating": "normal",
            "service_type": "IMS",
            "resource_type": "image",
            "resource_id": IMAGE_ID,
            "time": 1795767400000,
        },
    },
    "smn": {"smn_body": SIGNED_NOTIFICATION},
    "resume": {"resume": {"ticket": "0" * 32}, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn"},
}

hostile_texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(max_codepoint=31), max_size=20),  # control characters
    st.sampled_from(
        ["\ud800", "\x00", "yes", "1", "TRUE", "on", "no", "0", "off", "9999-12-31T23:59:59+14:00"]
    ),
    st.sampled_from([1024, 65_536, 262_144]).flatmap(
        lambda size: st.sampled_from(["A", "é", "\u202e", '"', "\\"]).map(lambda char: char * size)
    ),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.just(10**400), hostile_texts
)
hostile_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, (*prefix, index))


def mutated(event: Any, path: tuple[Any, ...], how: str, value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(event)
    parent = copied
    for part in path[:-1]:
        parent = parent[part]
    if how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "add" and isinstance(parent, dict):
        parent[f"{path[-1]}-extra"] = value
    else:
        parent[path[-1]] = value
    return copied


@st.composite
def hostile_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(sorted(VALID_EVENTS)))
    event = VALID_EVENTS[kind]
    if kind == "smn" and draw(st.booleans()):  # mutate the message inside the delivery instead
        body = json.loads(SIGNED_NOTIFICATION)
        path = draw(st.sampled_from(list(paths(body))[1:]))
        inner = mutated(body, path, draw(st.sampled_from(["set", "drop"])), draw(hostile_values))
        return {"smn_body": json.dumps(inner)}
    path = draw(st.sampled_from(list(paths(event))))
    return mutated(event, path, draw(st.sampled_from(["set", "drop", "add"])), draw(hostile_values))


def test_two_thousand_hostile_events_are_each_a_named_refusal_or_a_valid_order() -> None:
    start_app = load_function_module(FUNCTIONS["StartExportFunction"])
    context = FakeLambdaContext(function_name="StartExportFunction", invoked_function_arn="arn:local")
    figures: Counter[str] = Counter()
    app_settings = make_settings(smn_allowed_topic_urns=[TOPIC_URN])
    verifier = SmnVerifier(RecordingFetcher(SIGNER.pem), allowed_topic_urns={TOPIC_URN}, clock=lambda: NOW)
    SMN_HANDLERS.clear()
    SMN_HANDLERS[((TOPIC_URN,), None)] = partial(
        handle_smn_message, verifier=verifier, session=requests.Session()
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same events every run: docs/security.md quotes its figures
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(event=hostile_events())
    def one(event: Any) -> None:
        tokens = CountingTokens()
        ims = FakeIms(tokens=tokens)
        ims.add_image(make_image())
        payload = {
            "event": event,
            "execution_id": "arn:aws:states:eu-central-1:123456789012:execution:m:fuzz",
            "execution_started_at": (NOW - timedelta(seconds=5)).isoformat(),
        }
        figures["tried"] += 1
        with runtime.use_clients(make_clients(ims, app_settings)):
            try:
                start_app.lambda_handler(payload, context)
            except InvalidRequestError:
                figures["refused"] += 1
                figures["calls_when_refused"] += len(ims.calls) + tokens.uses
                assert (ims.calls, tokens.uses) == ([], 0), json.dumps(event)[:300]
                return
            except ImsExportError:
                assert ims.calls, f"named error before any call: {json.dumps(event)[:300]}"
        figures["accepted"] += 1
        figures["calls_when_accepted"] += len(ims.calls)

    try:
        one()
    finally:
        SMN_HANDLERS.clear()
    print(f"\nfuzz of the start step: {dict(figures)}")  # noqa: T201 (the figures)
    assert figures["tried"] >= EXAMPLES
    assert figures["refused"] > 0
    assert figures["accepted"] > 0
    assert figures["calls_when_refused"] == 0
