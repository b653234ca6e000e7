"""The wiring command's requests as the SMN and OBS API references give them, answered by ``responses``
(independent of the emulator): an empty cloud gets four changes and only reads; applying them sends the
documented paths and bodies; other statements, subscriptions and notification configurations are kept,
and undoing takes out only what the command put in."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
import responses
from pydantic import SecretStr

from ims_export.cloud.obs import ObsClient
from ims_export.cloud.temporary_credentials import TemporaryCredentials
from ims_export.domain.tokens import IssuedToken
from ims_export.settings import Cloud
from localdev.wiring.bucket_notification import (
    CONFIGURATION_ID,
    BucketNotificationClient,
    ObsNotificationError,
    parse_configuration,
)
from localdev.wiring.inputs import check_inputs
from localdev.wiring.plan import DISPLAY_NAME, Wiring
from localdev.wiring.smn_client import SmnApiError, SmnClient
from localdev.wiring.topic_policy import STATEMENT_ID, TopicPolicyError, obs_may_publish

PROJECT = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
SMN = f"https://smn.eu-de.otc.t-systems.com/v2/{PROJECT}/notifications"
URN = f"urn:smn:eu-de:{PROJECT}:ims-export-obs-events"
BUCKET_URL = "https://exports-bucket.obs.eu-de.otc.t-systems.com/?notification"
ENDPOINT = "https://abc123.execute-api.eu-de.amazonaws.com/smn/smn"
TOKEN = "MIItoken-for-the-requests-test"
ACCESS_KEY, SECRET_KEY, SECURITY_TOKEN = "AKTESTWIRING0000", "sk-test-wiring", "gAAAAABsecuritytoken"
WRITES = ("POST", "PUT", "DELETE")
FOREIGN_STATEMENT = {
    "Sid": "__user_pub_0",
    "Effect": "Allow",
    "Principal": {"CSP": ["urn:csp:iam::93dc1b4697ac493d9b7d089569f86b32:root"]},
    "Action": ["SMN:Publish", "SMN:QueryTopicDetail"],
    "Resource": URN,
}
FOREIGN_CONFIGURATION = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<NotificationConfiguration xmlns="http://obs.example.com/doc/2015-06-30/">'
    b"<TopicConfiguration><Topic>urn:smn:eu-de:" + PROJECT.encode() + b":audit</Topic><Id>audit</Id>"
    b"<Filter><Object><FilterRule><Name>prefix</Name><Value>logs/</Value></FilterRule></Object></Filter>"
    b"<Event>ObjectRemoved:*</Event></TopicConfiguration>"
    b"<FunctionGraphConfiguration><Id>fg</Id><FunctionGraph>urn:fss:eu-de:x:function:default:f</FunctionGraph>"
    b"<Event>ObjectCreated:Put</Event></FunctionGraphConfiguration>"
    b"</NotificationConfiguration>"
)
EMPTY_CONFIGURATION = b'<NotificationConfiguration xmlns="http://obs.example.com/doc/2015-06-30/"/>'


@pytest.fixture
def cloud() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def wiring() -> Wiring:
    now = datetime.now(UTC)
    token = IssuedToken(value=SecretStr(TOKEN), expires_at=now + timedelta(hours=1), project_id=PROJECT)
    credentials = TemporaryCredentials(
        access_key_id=ACCESS_KEY,
        secret_access_key=SecretStr(SECRET_KEY),
        security_token=SecretStr(SECURITY_TOKEN),
        expires_at=now + timedelta(minutes=15),
    )
    session, timeout = requests.Session(), (1.0, 1.0)
    smn = SmnClient("https://smn.eu-de.otc.t-systems.com", token, session, timeout)
    obs = BucketNotificationClient(ObsClient(credentials, session, timeout, cloud=Cloud.OTC, region="eu-de"))
    inputs = check_inputs(
        ENDPOINT, "exports-bucket", "exports/{image_name}-{image_id}-{date}.{format}", "ims-export-obs-events"
    )
    return Wiring(inputs, smn, obs, URN)


def empty_cloud(cloud: responses.RequestsMock) -> None:
    cloud.get(f"{SMN}/topics?offset=0&limit=100", json={"request_id": "r", "topic_count": 0, "topics": []})
    cloud.get(BUCKET_URL, body=EMPTY_CONFIGURATION, content_type="application/xml")


def existing_topic(
    cloud: responses.RequestsMock, policy: dict[str, Any] | None, subscriptions: list[dict[str, Any]]
) -> None:
    topic = {"topic_urn": URN, "name": "ims-export-obs-events", "display_name": DISPLAY_NAME}
    cloud.get(
        f"{SMN}/topics?offset=0&limit=100", json={"request_id": "r", "topic_count": 1, "topics": [topic]}
    )
    cloud.get(
        f"{SMN}/topics/{URN}/attributes?name=access_policy",
        json={"request_id": "r", "attributes": {"access_policy": json.dumps(policy) if policy else ""}},
    )
    cloud.get(
        f"{SMN}/topics/{URN}/subscriptions?offset=0&limit=100",
        json={"request_id": "r", "subscription_count": len(subscriptions), "subscriptions": subscriptions},
    )


def writes(cloud: responses.RequestsMock) -> list[Any]:
    return [call.request for call in cloud.calls if call.request.method in WRITES]


def subscription(endpoint: str, number: int) -> dict[str, Any]:
    return {
        "topic_urn": URN,
        "protocol": "https",
        "subscription_urn": f"{URN}:{number:032x}",
        "owner": PROJECT,
        "endpoint": endpoint,
        "remark": "",
        "status": 1,
    }


def test_an_empty_cloud_plans_four_changes_and_calls_no_writing_api(cloud: responses.RequestsMock) -> None:
    empty_cloud(cloud)

    plan = wiring().wire()

    assert len(plan.changes) == 4, [step.text for step in plan.changes]
    assert writes(cloud) == []
    assert [call.request.method for call in cloud.calls] == ["GET", "GET"]
    assert all(
        call.request.headers["X-Auth-Token"] == TOKEN
        for call in cloud.calls
        if "smn." in str(call.request.url)
    )


def test_applying_sends_the_documented_paths_and_bodies(cloud: responses.RequestsMock) -> None:
    empty_cloud(cloud)
    cloud.post(f"{SMN}/topics", json={"request_id": "r", "topic_urn": URN}, status=201)
    cloud.put(f"{SMN}/topics/{URN}/attributes/access_policy", json={"request_id": "r"})
    cloud.post(
        f"{SMN}/topics/{URN}/subscriptions",
        json={"request_id": "r", "subscription_urn": f"{URN}:1"},
        status=201,
    )
    cloud.put(BUCKET_URL, body=b"")

    for step in wiring().wire().changes:
        step.run()

    create, policy, subscribe, notification = writes(cloud)
    assert (create.method, create.url) == ("POST", f"{SMN}/topics")
    assert json.loads(create.body) == {"name": "ims-export-obs-events", "display_name": DISPLAY_NAME}
    assert (policy.method, policy.url) == ("PUT", f"{SMN}/topics/{URN}/attributes/access_policy")
    document = json.loads(json.loads(policy.body)["value"])  # the policy travels as JSON text
    assert document["Version"] == "2016-09-07" and document["Id"]
    assert document["Statement"] == [
        {
            "Sid": STATEMENT_ID,
            "Effect": "Allow",
            "Principal": {"Service": ["obs"]},
            "Action": ["SMN:Publish", "SMN:QueryTopicDetail"],
            "Resource": URN,
        }
    ]
    assert (subscribe.method, subscribe.url) == ("POST", f"{SMN}/topics/{URN}/subscriptions")
    assert json.loads(subscribe.body) == {"protocol": "https", "endpoint": ENDPOINT, "remark": DISPLAY_NAME}
    assert (notification.method, notification.url) == ("PUT", BUCKET_URL)
    root = ElementTree.fromstring(notification.body)  # noqa: S314 (our own request)
    (rule,) = root
    assert root.tag == "NotificationConfiguration" and rule.tag == "TopicConfiguration"
    assert rule.findtext("Id") == CONFIGURATION_ID
    assert rule.findtext("Topic") == URN
    assert [event.text for event in rule.findall("Event")] == ["ObjectCreated:*"]
    assert [(item.findtext("Name"), item.findtext("Value")) for item in rule.iter("FilterRule")] == [
        ("prefix", "exports/")
    ]
    headers = notification.headers
    assert headers["Authorization"].startswith(f"OBS {ACCESS_KEY}:")
    assert headers["x-obs-security-token"] == SECURITY_TOKEN
    assert headers["Content-MD5"] == base64.b64encode(hashlib.md5(notification.body).digest()).decode()  # noqa: S324


def test_a_wired_cloud_plans_nothing(cloud: responses.RequestsMock) -> None:
    console_statement = {**FOREIGN_STATEMENT, "Sid": "__service_pub_0", "Principal": {"Service": ["obs"]}}
    policy = {
        "Version": "2016-09-07",
        "Id": "__default_policy_ID",
        "Statement": [FOREIGN_STATEMENT, console_statement],
    }
    existing_topic(cloud, policy, [subscription(ENDPOINT, 1)])
    wired = (
        b"<NotificationConfiguration><TopicConfiguration><Id>" + CONFIGURATION_ID.encode() + b"</Id>"
        b"<Filter><Object><FilterRule><Name>prefix</Name><Value>exports/</Value></FilterRule></Object></Filter>"
        b"<Topic>" + URN.encode() + b"</Topic><Event>ObjectCreated:*</Event></TopicConfiguration>"
        b"</NotificationConfiguration>"
    )
    cloud.get(BUCKET_URL, body=wired, content_type="application/xml")

    plan = wiring().wire()

    assert plan.changes == []
    assert any("statement __service_pub_0" in line for line in plan.unchanged)  # the console's own kind


def test_other_statements_and_configurations_are_kept(cloud: responses.RequestsMock) -> None:
    policy = {"Version": "2016-09-07", "Id": "their-policy", "Statement": [FOREIGN_STATEMENT]}
    existing_topic(cloud, policy, [subscription("https://other.example/hook", 7)])
    cloud.get(BUCKET_URL, body=FOREIGN_CONFIGURATION, content_type="application/xml")
    cloud.put(f"{SMN}/topics/{URN}/attributes/access_policy", json={"request_id": "r"})
    cloud.post(
        f"{SMN}/topics/{URN}/subscriptions",
        json={"request_id": "r", "subscription_urn": f"{URN}:2"},
        status=201,
    )
    cloud.put(BUCKET_URL, body=b"")

    plan = wiring().wire()
    for step in plan.changes:
        step.run()

    assert len(plan.changes) == 3  # the topic exists
    policy_put, _, notification = writes(cloud)
    document = json.loads(json.loads(policy_put.body)["value"])
    assert document["Id"] == "their-policy"
    assert [statement["Sid"] for statement in document["Statement"]] == ["__user_pub_0", STATEMENT_ID]
    assert document["Statement"][0] == FOREIGN_STATEMENT
    root = ElementTree.fromstring(notification.body)  # noqa: S314 (our own request)
    assert [child.tag for child in root] == [
        "TopicConfiguration",
        "FunctionGraphConfiguration",
        "TopicConfiguration",
    ]
    assert [child.findtext("Id") for child in root] == ["audit", "fg", CONFIGURATION_ID]
    assert root[0].findtext("Topic") == f"urn:smn:eu-de:{PROJECT}:audit"


def test_undo_removes_only_what_the_command_put_in(cloud: responses.RequestsMock) -> None:
    ours = {
        "Sid": STATEMENT_ID,
        "Effect": "Allow",
        "Principal": {"Service": ["obs"]},
        "Action": ["SMN:Publish"],
        "Resource": URN,
    }
    policy = {"Version": "2016-09-07", "Id": "p", "Statement": [FOREIGN_STATEMENT, ours]}
    existing_topic(cloud, policy, [subscription("https://other.example/hook", 7), subscription(ENDPOINT, 8)])
    ours_configuration = (
        b"<TopicConfiguration><Id>" + CONFIGURATION_ID.encode() + b"</Id><Topic>" + URN.encode() + b"</Topic>"
        b"<Event>ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>"
    )
    cloud.get(
        BUCKET_URL, body=FOREIGN_CONFIGURATION.replace(b"</NotificationConfiguration>", ours_configuration)
    )
    cloud.put(BUCKET_URL, body=b"")
    cloud.delete(f"{SMN}/subscriptions/{URN}:{8:032x}", json={"request_id": "r"})
    cloud.put(f"{SMN}/topics/{URN}/attributes/access_policy", json={"request_id": "r"})

    plan = wiring().undo(shared=True)
    for step in plan.changes:
        step.run()

    notification, unsubscribe, policy_put = writes(cloud)
    root = ElementTree.fromstring(notification.body)  # noqa: S314 (our own request)
    assert [child.findtext("Id") for child in root] == ["audit", "fg"]
    assert unsubscribe.method == "DELETE"
    assert json.loads(json.loads(policy_put.body)["value"])["Statement"] == [FOREIGN_STATEMENT]
    assert any("is kept" in line and "1 other subscription" in line for line in plan.unchanged)


def test_undo_deletes_the_topic_it_created_when_nothing_else_uses_it(cloud: responses.RequestsMock) -> None:
    ours = {
        "Sid": STATEMENT_ID,
        "Effect": "Allow",
        "Principal": {"Service": ["obs"]},
        "Action": ["SMN:Publish"],
        "Resource": URN,
    }
    existing_topic(
        cloud, {"Version": "2016-09-07", "Id": "p", "Statement": [ours]}, [subscription(ENDPOINT, 8)]
    )
    cloud.get(BUCKET_URL, body=EMPTY_CONFIGURATION)
    cloud.delete(f"{SMN}/subscriptions/{URN}:{8:032x}", json={"request_id": "r"})
    cloud.delete(f"{SMN}/topics/{URN}/attributes/access_policy", json={"request_id": "r"})
    cloud.delete(f"{SMN}/topics/{URN}", json={"request_id": "r"})

    for step in wiring().undo(shared=True).changes:
        step.run()

    assert [(request.method, request.url) for request in writes(cloud)] == [
        ("DELETE", f"{SMN}/subscriptions/{URN}:{8:032x}"),
        ("DELETE", f"{SMN}/topics/{URN}/attributes/access_policy"),  # SMN refuses a policy without statements
        ("DELETE", f"{SMN}/topics/{URN}"),
    ]


@pytest.mark.parametrize(
    "denied",
    [
        {"Effect": "Deny", "Principal": {"Service": ["obs"]}},
        {"Effect": "deny", "Principal": {"Service": ["OBS"]}},
        {"Effect": "Deny", "Principal": "*"},
        {"Effect": "Deny", "Principal": {"Service": ["*"]}},
        {"Effect": "Deny", "Principal": {"CSP": ["*"]}, "Action": ["SMN:*"], "Resource": "urn:smn:*"},
    ],
    ids=["obs", "any-case", "anyone", "any-service", "any-account-any-action"],
)
def test_a_statement_denying_obs_is_a_named_refusal_before_any_change(
    cloud: responses.RequestsMock, denied: dict[str, Any]
) -> None:
    # A Deny outranks the Allow the command would add: the plan would never become empty.
    deny = {**FOREIGN_STATEMENT, "Sid": "no-obs", **denied}
    policy = {"Version": "2016-09-07", "Id": "their-policy", "Statement": [deny]}
    existing_topic(cloud, policy, [subscription(ENDPOINT, 1)])
    cloud.get(BUCKET_URL, body=EMPTY_CONFIGURATION, content_type="application/xml")

    with pytest.raises(TopicPolicyError, match=r"denies OBS publishing .*statement no-obs.*run again"):
        wiring().wire()
    assert writes(cloud) == []


def test_a_deny_of_another_principal_or_topic_is_not_obs_s() -> None:
    others = [
        {**FOREIGN_STATEMENT, "Sid": "no-account", "Effect": "Deny"},  # one account, not OBS
        {**FOREIGN_STATEMENT, "Sid": "no-obs-there", "Effect": "Deny", "Principal": {"Service": ["obs"]},
         "Resource": URN + "-other"},
    ]  # fmt: skip
    allowing = {**FOREIGN_STATEMENT, "Sid": "obs", "Principal": {"Service": ["obs"]}}
    assert obs_may_publish({"Statement": [*others, allowing]}, URN) == "obs"
    # Anyone allowed is not taken for OBS allowed: SMN does not document it.
    assert obs_may_publish({"Statement": [{**FOREIGN_STATEMENT, "Principal": "*"}]}, URN) is None


def test_smn_refusal_names_the_call_and_code_without_the_token(cloud: responses.RequestsMock) -> None:
    cloud.get(
        f"{SMN}/topics?offset=0&limit=100",
        status=403,
        json={"request_id": "r", "code": "SMN.0001", "message": f"No permission for {TOKEN}"},
    )

    with pytest.raises(Exception, match=r"list topics .*403 SMN\.0001") as raised:
        wiring().wire()

    assert TOKEN not in str(raised.value)


def test_undo_of_one_bucket_keeps_what_other_buckets_may_share(cloud: responses.RequestsMock) -> None:
    ours_configuration = (
        f"<TopicConfiguration><Id>{CONFIGURATION_ID}</Id><Topic>{URN}</Topic>"
        "<Event>ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>"
    ).encode()
    cloud.get(
        BUCKET_URL, body=FOREIGN_CONFIGURATION.replace(b"</NotificationConfiguration>", ours_configuration)
    )
    cloud.put(BUCKET_URL, body=b"")

    plan = wiring().undo()
    for step in plan.changes:
        step.run()

    # Only the bucket's own configuration goes: the topic, its subscription and its statement stay.
    assert [request.method for request in writes(cloud)] == ["PUT"]
    assert any("are kept" in line and "UNDO=all" in line for line in plan.unchanged)


def test_a_subscription_status_that_is_no_number_is_shown_not_crashed_on(
    cloud: responses.RequestsMock,
) -> None:
    existing_topic(cloud, None, [{**subscription(ENDPOINT, 8), "status": "confirmed"}])
    cloud.get(BUCKET_URL, body=EMPTY_CONFIGURATION)

    plan = wiring().wire()

    assert any(f"{ENDPOINT} exists, not confirmed yet (status -1)" in line for line in plan.unchanged)


@pytest.mark.parametrize("urn", ["", f"{URN}/../../topics", "urn:smn:eu-de:x:y?z"])
def test_a_topic_listed_without_a_readable_urn_is_no_path_to_call(
    cloud: responses.RequestsMock, urn: str
) -> None:
    topic = {"topic_urn": urn, "name": "ims-export-obs-events", "display_name": DISPLAY_NAME}
    cloud.get(
        f"{SMN}/topics?offset=0&limit=100", json={"request_id": "r", "topic_count": 1, "topics": [topic]}
    )
    cloud.get(BUCKET_URL, body=EMPTY_CONFIGURATION)

    with pytest.raises(SmnApiError, match="readable topic_urn"):
        wiring().wire()
    assert writes(cloud) == []


def test_a_second_configuration_of_our_id_is_written_back_not_dropped() -> None:
    ours = (
        f"<TopicConfiguration><Id>{CONFIGURATION_ID}</Id><Topic>{URN}</Topic>"
        "<Event>ObjectCreated:*</Event></TopicConfiguration>"
    )
    document = f"<NotificationConfiguration>{ours}{ours.replace('ObjectCreated:*', 'ObjectRemoved:*')}"
    configuration = parse_configuration((document + "</NotificationConfiguration>").encode())

    written = ElementTree.fromstring(configuration.with_rule(None))  # noqa: S314 (our own document)

    assert [child.findtext("Event") for child in written] == ["ObjectRemoved:*"]


@pytest.mark.parametrize(
    "answer", [b"", b"<html><body>502 Bad Gateway</body></html>", b"<Error><Code>x</Code></Error>", b"{}"]
)
def test_an_answer_that_is_no_configuration_changes_nothing(
    cloud: responses.RequestsMock, answer: bytes
) -> None:
    # Its configurations are written back whole: read as "none", the bucket's others would be dropped.
    existing_topic(cloud, None, [])
    cloud.get(BUCKET_URL, body=answer)

    with pytest.raises(ObsNotificationError, match="nothing was changed"):
        wiring().wire()
    assert writes(cloud) == []
