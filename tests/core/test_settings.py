"""Settings from the environment: defaults, derived IAM endpoints, and clear errors for bad values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ims_export.domain.export_request import FileFormat
from ims_export.errors import ConfigurationError
from ims_export.settings import Cloud, Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.cloud is Cloud.OTC
    assert settings.region == "eu-de"
    assert settings.project_name == "eu-de"
    assert settings.iam_endpoint == "https://iam.eu-de.otc.t-systems.com/v3"
    assert settings.ims_endpoint is None
    assert settings.export_file_format is FileFormat.QCOW2


@pytest.mark.parametrize(
    ("cloud", "region", "iam"),
    [
        ("otc", "eu-de", "https://iam.eu-de.otc.t-systems.com/v3"),
        ("otc", "eu-nl", "https://iam.eu-nl.otc.t-systems.com/v3"),
        ("otc", "eu-ch2", "https://iam-pub.eu-ch2.sc.otc.t-systems.com/v3"),
        ("huawei", "ap-southeast-1", "https://iam.ap-southeast-1.myhuaweicloud.com/v3"),
        ("huawei", "eu-west-101", "https://iam.eu-west-101.myhuaweicloud.eu/v3"),
    ],
)
def test_derived_iam_endpoints(cloud: str, region: str, iam: str) -> None:
    settings = Settings.from_env({"CLOUD": cloud, "CLOUD_REGION": region})
    assert settings.iam_endpoint == iam
    assert settings.project_name == region


def test_explicit_values_win_and_lose_their_trailing_slash() -> None:
    settings = Settings.from_env(
        {
            "IAM_ENDPOINT": "https://iam.example.test/v3/",
            "IMS_ENDPOINT": "https://ims.example.test/",
            "PROJECT_NAME": "eu-de_sub",
            "POLL_MIN_SECONDS": "30",
            "EXPORT_FILE_FORMAT": "vmdk",
            "HTTP_READ_TIMEOUT_SECONDS": "12.5",
        }
    )
    assert settings.iam_endpoint == "https://iam.example.test/v3"
    assert settings.ims_endpoint == "https://ims.example.test"
    assert settings.project_name == "eu-de_sub"
    assert settings.poll_min_seconds == 30
    assert settings.export_file_format is FileFormat.VMDK
    assert settings.http_read_timeout_seconds == 12.5


def test_empty_variables_mean_unset() -> None:
    assert Settings.from_env({"CLOUD_REGION": "", "IMS_ENDPOINT": ""}) == Settings.from_env({})


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"CLOUD": "aws-secret-value"}, "CLOUD"),
        ({"CLOUD_REGION": "EU DE secret-value"}, "CLOUD_REGION"),
        ({"TOKEN_REFRESH_MARGIN_SECONDS": "secret-value"}, "TOKEN_REFRESH_MARGIN_SECONDS"),
        ({"TOKEN_REFRESH_MARGIN_SECONDS": "10"}, "TOKEN_REFRESH_MARGIN_SECONDS"),
        ({"HTTP_CONNECT_TIMEOUT_SECONDS": "0"}, "HTTP_CONNECT_TIMEOUT_SECONDS"),
        ({"EXPORT_FILE_FORMAT": "raw-secret-value"}, "EXPORT_FILE_FORMAT"),
        ({"POLL_MAX_SECONDS": "0"}, "POLL_MAX_SECONDS"),
        ({"EXECUTION_TIMEOUT_SECONDS": "0"}, "EXECUTION_TIMEOUT_SECONDS"),
        ({"MAX_POLLS_PER_EXECUTION": "secret-value"}, "MAX_POLLS_PER_EXECUTION"),
        ({"MAX_IMAGE_CHECKS": "-1"}, "MAX_IMAGE_CHECKS"),
        ({"POLL_MIN_SECONDS": "600", "POLL_MAX_SECONDS": "60"}, "POLL_MIN_SECONDS must not exceed"),
    ],
)
def test_bad_values_are_configuration_errors_that_do_not_echo_them(
    environ: dict[str, str], field: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(environ)
    assert field in raised.value.message
    assert "secret-value" not in str(raised.value)


def test_the_export_limits_come_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (
        defaults.execution_timeout_seconds,
        defaults.max_polls_per_execution,
        defaults.max_image_checks,
    ) == (
        172800,
        2000,
        120,
    )
    limits = Settings.from_env(
        {"EXECUTION_TIMEOUT_SECONDS": "3600", "MAX_POLLS_PER_EXECUTION": "10", "MAX_IMAGE_CHECKS": "3"}
    )
    assert (limits.execution_timeout_seconds, limits.max_polls_per_execution, limits.max_image_checks) == (
        3600,
        10,
        3,
    )


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUD", "huawei")
    monkeypatch.setenv("CLOUD_REGION", "la-south-2")
    assert Settings.from_env().iam_endpoint == "https://iam.la-south-2.myhuaweicloud.com/v3"


def test_the_tuning_document_sets_tunable_settings_by_their_variable_names() -> None:
    settings = Settings.from_env(
        {"EXPORT_BUCKET": "b", "IMS_EXPORT_SETTINGS": '{"POLL_MAX_SECONDS": 900, "POLL_MIN_SECONDS": 20}'}
    )
    assert (settings.poll_min_seconds, settings.poll_max_seconds, settings.export_bucket) == (20, 900, "b")
    assert Settings.from_env({"IMS_EXPORT_SETTINGS": "  "}) == Settings.from_env({})
    assert Settings.from_env({"IMS_EXPORT_SETTINGS": '{"POLL_MAX_SECONDS": null}'}) == Settings.from_env({})


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("{poll: 1}", "is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"EXPORT_BUCKET": "elsewhere"}', "cannot set EXPORT_BUCKET"),
        ('{"IDEMPOTENCY_TABLE": "t"}', "cannot set IDEMPOTENCY_TABLE"),
        ('{"POLL_MAX_SECONDS": 5, "POLL_MIN_SECONDS": 10}', "POLL_MIN_SECONDS must not exceed"),
        ('{"poll_max_seconds": 900}', "cannot set poll_max_seconds"),
    ],
)
def test_a_bad_tuning_document_is_a_configuration_error_naming_it(document: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env({"IMS_EXPORT_SETTINGS": document})


def test_a_setting_given_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="POLL_MAX_SECONDS set both"):
        Settings.from_env({"POLL_MAX_SECONDS": "600", "IMS_EXPORT_SETTINGS": '{"POLL_MAX_SECONDS": 900}'})


def test_a_refusal_of_many_or_long_names_stays_short() -> None:
    names = {f"{'X' * 500}{n}": 1 for n in range(50)}
    with pytest.raises(ConfigurationError, match="cannot set") as raised:
        Settings.from_env({"IMS_EXPORT_SETTINGS": json.dumps(names)})
    assert len(raised.value.message) < 2000


@pytest.mark.parametrize(
    ("tuning", "named", "said"),
    [
        ({"RETENTION_COUNT": True}, "RETENTION_COUNT", "must be a number"),
        ({"VERIFY_EXPORTED_OBJECT": 0}, "VERIFY_EXPORTED_OBJECT", "must be true or false"),
        ({"PREFLIGHT_TARGET": "yes please"}, "PREFLIGHT_TARGET", "must be true or false"),
        ({"POLL_MIN_SECONDS": 2.5}, "POLL_MIN_SECONDS", "whole number"),
        ({"IAM_ENDPOINT": "ftp://x"}, "IAM_ENDPOINT", "https://"),
        ({"IMS_ENDPOINT": "http://ims.example.com"}, "IMS_ENDPOINT", "https://"),
        ({"OBS_ENDPOINT": "https://user:pw@obs.example.com"}, "OBS_ENDPOINT", "without user"),
        ({"PROJECT_ID": "../../x"}, "PROJECT_ID", "pattern"),
        ({"EXPORT_OBJECT_PATTERN": "exports/{date:%Y}{image_id}.{format}"}, "EXPORT_OBJECT_PATTERN", "date"),
        ({"EXPORT_OBJECT_PATTERN": "{format:>999999999999}"}, "EXPORT_OBJECT_PATTERN", "format of their own"),
        ({"EXPORT_OBJECT_PATTERN": "exports/{image_id:.0}.{format}"}, "EXPORT_OBJECT_PATTERN", "image_id"),
        ({"EXPORT_OBJECT_PATTERN": "exports/{image_id} x.{format}"}, "EXPORT_OBJECT_PATTERN", "refuses"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_setting_is_refused_when_read_naming_its_variable(
    tuning: dict[str, Any], named: str, said: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"IMS_EXPORT_SETTINGS": json.dumps(tuning)})

    assert named in refused.value.message
    assert said in refused.value.message


def test_switches_and_counts_read_from_variables_as_text() -> None:
    settings = Settings.from_env(
        {"VERIFY_EXPORTED_OBJECT": "FALSE", "RETENTION_COUNT": "3", "IMS_ENDPOINT": "http://127.0.0.1:8080"}
    )

    assert (settings.verify_exported_object, settings.retention_count) == (False, 3)
    with pytest.raises(ConfigurationError, match="VERIFY_EXPORTED_OBJECT"):
        Settings.from_env({"VERIFY_EXPORTED_OBJECT": "0"})
