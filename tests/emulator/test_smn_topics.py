"""The emulator's SMN topic API and OBS's ``?notification``: OBS refuses a topic that does not let it
publish (400 InvalidArgument, nothing changed), and SMN checks a policy as its reference says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ims_export.errors import ObsRequestError
from localdev.emulator import Emulator
from localdev.emulator.config import EmulatorConfig
from localdev.wiring.bucket_notification import wanted_rule
from localdev.wiring.connection import Clients, connect, read_target
from localdev.wiring.smn_client import SmnApiError


@pytest.fixture
def clients() -> Iterator[tuple[Emulator, Clients]]:
    with Emulator(EmulatorConfig(seed_images=False)) as emulator:
        environ = {
            "OS_AUTH_URL": emulator.iam_url,
            "OS_USERNAME": "ims-export",
            "OS_PASSWORD": "emulator-password",
            "OS_USER_DOMAIN_NAME": "OTC-EU-DE-00000000001000000001",
            "OS_REGION_NAME": "eu-de",
            "OBS_ENDPOINT": emulator.obs_url,
            "SMN_API_ENDPOINT": emulator.base_url,
        }
        yield emulator, connect(read_target(environ), "ims-export-demo")


def test_obs_refuses_a_topic_that_does_not_let_it_publish(clients: tuple[Emulator, Clients]) -> None:
    emulator, cloud = clients
    urn = cloud.smn.create_topic("no-policy", "x")
    configuration = cloud.obs.read("ims-export-demo")

    with pytest.raises(ObsRequestError, match="400 InvalidArgument"):
        cloud.obs.write("ims-export-demo", configuration.with_rule(wanted_rule(urn, "exports/")))

    assert cloud.obs.read("ims-export-demo").ours is None
    assert emulator.control.smn_messages() == []


def test_obs_refuses_a_topic_that_does_not_exist(clients: tuple[Emulator, Clients]) -> None:
    _, cloud = clients
    missing = f"urn:smn:eu-de:{cloud.project_id}:missing"

    with pytest.raises(ObsRequestError, match="400 InvalidArgument"):
        cloud.obs.write(
            "ims-export-demo", cloud.obs.read("ims-export-demo").with_rule(wanted_rule(missing, ""))
        )


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        ("not json", "SMN.0048"),
        ('{"Version": "2012-10-17", "Id": "p", "Statement": []}', "SMN.0049"),
        ('{"Version": "2016-09-07", "Id": "p", "Statement": []}', "SMN.0051"),
        ('{"Version": "2016-09-07", "Id": "p", "Statement": [{"Effect": "Allow"}]}', "SMN.0052"),
    ],
)
def test_smn_checks_a_policy_as_documented(clients: tuple[Emulator, Clients], policy: str, code: str) -> None:
    _, cloud = clients
    urn = cloud.smn.create_topic("checked", "x")

    with pytest.raises(SmnApiError, match=code):
        cloud.smn.set_access_policy(urn, policy)

    assert cloud.smn.access_policy(urn) == ""


def test_creating_a_topic_twice_gives_the_same_topic(clients: tuple[Emulator, Clients]) -> None:
    _, cloud = clients

    assert cloud.smn.create_topic("twice", "x") == cloud.smn.create_topic("twice", "x")
    topic = cloud.smn.find_topic("twice")
    assert topic is not None and topic.display_name == "x"
