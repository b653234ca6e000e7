from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider

from ims_export.auth.credentials import load_credentials
from ims_export.domain.credentials import Credentials
from ims_export.errors import ConfigurationError
from tests.auth.conftest import CREDENTIALS_PARAMETER
from tests.auth.fakes import PASSWORD

OTHER = "/test/ims-export/other-credentials"


def store(client: Any, value: str) -> None:
    client.put_parameter(Name=OTHER, Type="SecureString", Value=value, Overwrite=True)


def test_loads_the_credentials_and_hides_the_password(ssm_client: Any) -> None:
    credentials = load_credentials(SSMProvider(boto3_client=ssm_client), CREDENTIALS_PARAMETER)

    assert credentials.user_name == "ims-export"
    assert credentials.domain_name == "OTC-EU-DE-1"
    assert credentials.password.get_secret_value() == PASSWORD
    assert credentials.project_id is None
    assert PASSWORD not in repr(credentials)
    assert PASSWORD not in str(credentials)
    assert PASSWORD not in credentials.model_dump_json()


def test_optional_project_fields_are_read(ssm_client: Any) -> None:
    store(
        ssm_client,
        json.dumps(
            {
                "user_name": "u",
                "password": "p",
                "domain_name": "d",
                "project_name": "eu-de_sub",
                "project_id": "42",
            }
        ),
    )
    credentials = load_credentials(SSMProvider(boto3_client=ssm_client), OTHER)
    assert (credentials.project_name, credentials.project_id) == ("eu-de_sub", "42")


def test_missing_parameter_is_a_configuration_error(ssm_client: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_credentials(SSMProvider(boto3_client=ssm_client), "/test/nowhere")
    assert raised.value.code == "ParameterNotFound"
    assert "/test/nowhere" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"user=ims-export password={PASSWORD}", "not a JSON object"),
        (json.dumps([PASSWORD]), "not a JSON object"),
        (json.dumps({"user_name": "u", "domain_name": "d", "passwd": PASSWORD}), "password: Field required"),
        (json.dumps({"user_name": "u", "password": "", "domain_name": "d"}), "password"),
        (json.dumps({"user_name": "", "password": PASSWORD, "domain_name": "d"}), "user_name"),
        (json.dumps({"user_name": "u", "password": PASSWORD, "domain_name": "d", "extra": 1}), "extra"),
    ],
)
def test_invalid_value_is_named_without_echoing_it(ssm_client: Any, value: str, expected: str) -> None:
    store(ssm_client, value)
    with pytest.raises(ConfigurationError) as raised:
        load_credentials(SSMProvider(boto3_client=ssm_client), OTHER)

    error = raised.value
    assert error.code == "InvalidCredentials"
    assert expected in str(error)
    for text in (str(error), repr(error), json.dumps(vars(error), default=str)):
        assert PASSWORD not in text
    # nothing chained that could carry the value into a traceback
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_model_refuses_missing_fields() -> None:
    with pytest.raises(ValueError, match="domain_name"):
        Credentials.model_validate({"user_name": "u", "password": "p"})
