"""Settings, read from environment variables (names in ``ENV_NAMES``).

One model, two sources: the variables the template wires (the cloud, the bucket, tables and parameter
names), and ``IMS_EXPORT_SETTINGS``, one JSON object of tuning knobs keyed by the same variable names
(the template's ``Settings`` parameter, so that a guided deploy asks a handful of questions, not forty).
No credential is ever an environment variable of a deployed function: the functions read the
*name* of the SSM SecureString that holds them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ims_export.domain.export_request import FileFormat
from ims_export.domain.naming import check_pattern
from ims_export.errors import ConfigurationError, ImsExportError
from ims_export.parsing import describe_validation_error

_BOOLEAN_TEXT = {"true": True, "false": False}


class Cloud(StrEnum):
    OTC = "otc"
    HUAWEI = "huawei"


# OTC regions whose IAM host does not follow ``iam.{region}.otc.t-systems.com``.
OTC_IAM_HOST_EXCEPTIONS = {"eu-ch2": "iam-pub.eu-ch2.sc.otc.t-systems.com"}
# Huawei Cloud Europe lives under its own domain (the Huawei SDK's IAM region table says so).
HUAWEI_IAM_HOST_EXCEPTIONS = {"eu-west-101": "iam.eu-west-101.myhuaweicloud.eu"}


CLOUD_DOMAINS = {Cloud.OTC: "otc.t-systems.com", Cloud.HUAWEI: "myhuaweicloud.com"}


def _regional_host(service: str, cloud: Cloud, region: str, exceptions: dict[Cloud, dict[str, str]]) -> str:
    return exceptions[cloud].get(region, f"{service}.{region}.{CLOUD_DOMAINS[cloud]}")


def default_iam_endpoint(cloud: Cloud, region: str) -> str:
    """The IAM v3 base URL of a region, for when none is configured."""
    exceptions = {Cloud.OTC: OTC_IAM_HOST_EXCEPTIONS, Cloud.HUAWEI: HUAWEI_IAM_HOST_EXCEPTIONS}
    return f"https://{_regional_host('iam', cloud, region, exceptions)}/v3"


# IMS hosts that do not follow ``ims.{region}.<cloud domain>`` (the clouds' "Regions and Endpoints" pages).
OTC_IMS_HOST_EXCEPTIONS = {"eu-ch2": "ims.eu-ch2.sc.otc.t-systems.com"}
HUAWEI_IMS_HOST_EXCEPTIONS = {"eu-west-101": "ims.eu-west-101.myhuaweicloud.eu"}


def default_ims_endpoint(cloud: Cloud, region: str) -> str:
    """The IMS base URL of a region, for when neither IMS_ENDPOINT nor the token catalog names one."""
    exceptions = {Cloud.OTC: OTC_IMS_HOST_EXCEPTIONS, Cloud.HUAWEI: HUAWEI_IMS_HOST_EXCEPTIONS}
    return f"https://{_regional_host('ims', cloud, region, exceptions)}"


class Settings(BaseModel):
    """Everything the functions need to know, except secrets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud: Cloud = Cloud.OTC
    region: str = Field(default="eu-de", pattern=r"^[a-z0-9-]{2,32}$")
    iam_endpoint: str = ""
    ims_endpoint: str | None = None
    # OBS for checking and retiring exported objects; unset: derived from cloud and region.
    obs_endpoint: str | None = None
    project_name: str = ""
    project_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,64}$")
    credentials_parameter: str = Field(default="/ims-export/credentials", min_length=1)
    token_parameter: str = Field(default="/ims-export/token", min_length=1)
    token_refresh_margin_seconds: int = Field(default=3600, ge=60, le=20 * 3600)
    # The hourly refresher renews a token with less than this left, long before the hot path has to.
    scheduled_refresh_margin_seconds: int = Field(default=4 * 3600, ge=60, le=20 * 3600)
    # DynamoDB table of the cross-process token refresh lock; unset: only an in-process lock.
    idempotency_table: str | None = None
    # KMS key of the token cache SecureString; None means the AWS-managed key aws/ssm.
    kms_key_id: str | None = None
    # The export state machine, for the fleet summary's links to each failed image's child execution.
    # Bounded by max_length (an ARN's 256 characters in the Step Functions API), not by a counted
    # repetition: pydantic-core's regex engine expands [^\s]{1,2000} into 2,000 Unicode classes, about
    # 20 ms when Settings is built, at every cold start (tests/core/test_pattern_costs.py).
    export_state_machine_arn: str | None = Field(
        default=None, max_length=256, pattern=r"^arn:aws[a-z-]*:states:\S+$"
    )
    http_connect_timeout_seconds: float = Field(default=3.05, gt=0, le=60)
    http_read_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    # A connection that cannot be made (refused, unknown host) is retried this often in the process.
    connect_retries: int = Field(default=2, ge=0, le=5)
    # Job answers without a readable state are retried; this many in a row, or for this long, end
    # the export as UnreadableJobAnswer.
    unreadable_job_answer_limit: int = Field(default=10, ge=1, le=1000)
    unreadable_job_answer_seconds: int = Field(default=1800, ge=60, le=7 * 86400)
    export_bucket: str | None = None
    export_file_format: FileFormat = FileFormat.QCOW2
    export_object_pattern: str = "exports/{image_name}-{image_id}-{date}.{format}"
    poll_min_seconds: int = Field(default=15, ge=1, le=3600)
    poll_max_seconds: int = Field(default=1800, ge=1, le=86400)
    # How long a started export is remembered, so that a duplicate trigger gets the same job: longer
    # than the export deadline (48 h), so a redelivery while the export runs is never a second export
    # (IMS would refuse it with IMG.0148, a failure and an alarm).
    export_idempotency_seconds: int = Field(default=50 * 3600, ge=60, le=7 * 86400)
    # The deadline of one export, counted from its first execution's start (across continuations).
    execution_timeout_seconds: int = Field(default=48 * 3600, ge=1, le=600_000)
    # Polls before an execution continues in a new one: about 9 history events per poll, so 2,000
    # polls stay well below the 25,000-event limit.
    max_polls_per_execution: int = Field(default=2000, ge=1, le=2500)
    # Checks of a still queued/saving image before ImageNotReadyError.
    max_image_checks: int = Field(default=120, ge=1, le=1000)
    # Before the export POST, check the target in OBS (steps/preflight.py): the bucket exists, is Standard
    # and in the region, and the object is not there yet. A bucket's answers are kept this long.
    preflight_target: bool = True
    preflight_cache_seconds: int = Field(default=300, ge=0, le=86_400)
    # After SUCCESS, HEAD the exported object with temporary credentials (steps/verify.py).
    verify_exported_object: bool = True
    # While a job runs, wait so that an OBS notification of its object (through the SMN endpoint) can
    # end the wait early (steps/wake.py); the poll schedule stays the safety net. Needs IDEMPOTENCY_TABLE.
    wake_on_obs_notification: bool = False
    # With it, the waits after the first are this long unless a notice ends them: the poll schedule is
    # the safety net, for a failed export (OBS sends nothing then) and a lost notification.
    wake_max_wait_seconds: int = Field(default=3600, ge=60, le=86_400)
    # Keep the newest N exports of an image under the object pattern (0 keeps everything); dry run
    # only reports what would be deleted.
    retention_count: int = Field(default=0, ge=0, le=10_000)
    retention_dry_run: bool = False
    # Buckets retention may delete in besides EXPORT_BUCKET: an event names its own bucket_url, and an
    # export there must not retire objects in a bucket the operator never gave to this stack.
    retention_buckets: tuple[str, ...] = ()
    # SMN topics whose messages the start step accepts; empty accepts none (anyone can subscribe
    # the endpoint to a topic of their own, and SMN signs their messages too).
    smn_allowed_topic_urns: tuple[str, ...] = ()
    # Full-match pattern of allowed SMN signing certificate URLs; empty keeps the built-in one.
    smn_cert_url_pattern: str | None = None
    # Images a fleet run exports at a time unless its input sets max_concurrency.
    fleet_max_concurrency: int = Field(default=10, ge=1, le=100)

    @field_validator("*", mode="before")
    @classmethod
    def _strictly_typed(cls, value: Any, info: ValidationInfo) -> Any:
        """A setting is what its variable says, not a guess: an environment variable is text ("true",
        "3"), a key of the JSON settings its JSON type. ``true`` is no count, ``0`` no switch."""
        kind = cls.model_fields[str(info.field_name)].annotation
        if kind is bool:
            if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
                return _BOOLEAN_TEXT[value.strip().lower()]
            if not isinstance(value, bool):
                raise ValueError(f"must be true or false, not {value!r}"[:200])
        elif kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"must be a number, not {value!r}"[:200])
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(f"must be a whole number, not {value!r}")
        return value

    @field_validator("iam_endpoint", "ims_endpoint", "obs_endpoint")
    @classmethod
    def _endpoint_is_https(cls, value: str | None) -> str | None:
        """HTTPS, or HTTP on this machine only (a local emulator): a token is never sent in clear."""
        if not value:
            return value
        parts = urlsplit(value.strip())
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if (
            not parts.hostname
            or parts.scheme not in ("https", "http")
            or (parts.scheme == "http" and not loopback)
        ):
            raise ValueError("must be an https:// URL (http:// only for a local emulator on 127.0.0.1)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must be a URL without user, query or fragment")
        return value

    @field_validator("export_object_pattern")
    @classmethod
    def _pattern_renders(cls, value: str) -> str:
        """Checked when read, by rendering a sample name: not at the first export, after an IMS call."""
        try:
            check_pattern(value)
        except ImsExportError as error:
            raise ValueError(error.message) from None
        return value

    @field_validator("smn_allowed_topic_urns", "retention_buckets", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        # The environment gives a comma-separated list.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("smn_cert_url_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error:
                raise ValueError("SMN_CERT_URL_PATTERN is not a regular expression") from None
        return value or None

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if self.poll_min_seconds > self.poll_max_seconds:
            raise ValueError("POLL_MIN_SECONDS must not exceed POLL_MAX_SECONDS")
        if not self.iam_endpoint:
            object.__setattr__(self, "iam_endpoint", default_iam_endpoint(self.cloud, self.region))
        if not self.project_name:
            object.__setattr__(self, "project_name", self.region)
        object.__setattr__(self, "iam_endpoint", self.iam_endpoint.rstrip("/"))
        if self.ims_endpoint:
            object.__setattr__(self, "ims_endpoint", self.ims_endpoint.rstrip("/"))
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[name] for field, name in ENV_NAMES.items() if environ.get(name, "") != ""
        }
        tuning = _tuning(environ.get(SETTINGS_JSON_ENV, ""))
        if twice := sorted(ENV_NAMES[field] for field in set(values) & set(tuning)):
            raise ConfigurationError(
                f"{', '.join(twice)} set both as a variable and in {SETTINGS_JSON_ENV}: set each once"
            )
        try:
            return cls.model_validate({**values, **tuning})
        except ValidationError as error:
            # pydantic wraps the ValueError of _derive too
            raise ConfigurationError(f"invalid settings: {_described(error)}") from None


def _described(error: ValidationError) -> str:
    """The validation error with each field called by its variable name (what a user sets)."""
    text = describe_validation_error(error)
    for field, name in ENV_NAMES.items():
        text = re.sub(rf"(^|; ){field}:", rf"\g<1>{name}:", text)
    return text


def _tuning(raw: str) -> dict[str, Any]:
    """The fields ``IMS_EXPORT_SETTINGS`` sets: a JSON object of tunable variable names to values."""
    if not raw.strip():
        return {}
    example = '{"POLL_MAX_SECONDS": 900}'
    try:
        document = json.loads(raw)
    except ValueError:
        raise ConfigurationError(
            f"{SETTINGS_JSON_ENV} (the template's Settings parameter) is not JSON: write an object such "
            f"as {example}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{SETTINGS_JSON_ENV} must be a JSON object such as {example}")
    field_by_name = {name: field for field, name in ENV_NAMES.items()}
    refused = sorted(str(name) for name in document if name not in TUNABLE)
    if refused:
        # Names only, each cut short, ten at most: the document is the operator's, but a message stays small.
        named = ", ".join(name[:64] for name in refused[:10]) + (" ..." if len(refused) > 10 else "")
        raise ConfigurationError(
            f"{SETTINGS_JSON_ENV} cannot set {named}; it takes {', '.join(sorted(TUNABLE))} "
            f"(the cloud, the bucket and the names of tables and parameters are template parameters)"
        )
    # null or "" leaves a setting at its default, as an empty variable does.
    return {field_by_name[name]: value for name, value in document.items() if value not in (None, "")}


# Field name -> environment variable. docs/configuration.md's table lists the same names.
ENV_NAMES: dict[str, str] = {
    "cloud": "CLOUD",
    "region": "CLOUD_REGION",
    "iam_endpoint": "IAM_ENDPOINT",
    "ims_endpoint": "IMS_ENDPOINT",
    "obs_endpoint": "OBS_ENDPOINT",
    "project_name": "PROJECT_NAME",
    "project_id": "PROJECT_ID",
    "credentials_parameter": "CREDENTIALS_PARAMETER",
    "token_parameter": "TOKEN_PARAMETER",
    "token_refresh_margin_seconds": "TOKEN_REFRESH_MARGIN_SECONDS",
    "scheduled_refresh_margin_seconds": "SCHEDULED_REFRESH_MARGIN_SECONDS",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "kms_key_id": "KMS_KEY_ID",
    "export_state_machine_arn": "EXPORT_STATE_MACHINE_ARN",
    "http_connect_timeout_seconds": "HTTP_CONNECT_TIMEOUT_SECONDS",
    "http_read_timeout_seconds": "HTTP_READ_TIMEOUT_SECONDS",
    "connect_retries": "CONNECT_RETRIES",
    "unreadable_job_answer_limit": "UNREADABLE_JOB_ANSWER_LIMIT",
    "unreadable_job_answer_seconds": "UNREADABLE_JOB_ANSWER_SECONDS",
    "export_bucket": "EXPORT_BUCKET",
    "export_file_format": "EXPORT_FILE_FORMAT",
    "export_object_pattern": "EXPORT_OBJECT_PATTERN",
    "poll_min_seconds": "POLL_MIN_SECONDS",
    "poll_max_seconds": "POLL_MAX_SECONDS",
    "export_idempotency_seconds": "EXPORT_IDEMPOTENCY_SECONDS",
    "execution_timeout_seconds": "EXECUTION_TIMEOUT_SECONDS",
    "max_polls_per_execution": "MAX_POLLS_PER_EXECUTION",
    "max_image_checks": "MAX_IMAGE_CHECKS",
    "preflight_target": "PREFLIGHT_TARGET",
    "preflight_cache_seconds": "PREFLIGHT_CACHE_SECONDS",
    "verify_exported_object": "VERIFY_EXPORTED_OBJECT",
    "wake_on_obs_notification": "WAKE_ON_OBS_NOTIFICATION",
    "wake_max_wait_seconds": "WAKE_MAX_WAIT_SECONDS",
    "retention_count": "RETENTION_COUNT",
    "retention_dry_run": "RETENTION_DRY_RUN",
    "retention_buckets": "RETENTION_BUCKETS",
    "smn_allowed_topic_urns": "SMN_ALLOWED_TOPIC_URNS",
    "smn_cert_url_pattern": "SMN_CERT_URL_PATTERN",
    "fleet_max_concurrency": "FLEET_MAX_CONCURRENCY",
}

SETTINGS_JSON_ENV = "IMS_EXPORT_SETTINGS"
# Wired by the template from its own parameters and resources (IAM policies are scoped to them), so
# never taken from the tuning document.
WIRED: frozenset[str] = frozenset(
    {
        "CLOUD",
        "CLOUD_REGION",
        "PROJECT_NAME",
        "CREDENTIALS_PARAMETER",
        "TOKEN_PARAMETER",
        "IDEMPOTENCY_TABLE",
        "KMS_KEY_ID",
        "EXPORT_STATE_MACHINE_ARN",
        "EXPORT_BUCKET",
        "EXPORT_FILE_FORMAT",
        "SMN_ALLOWED_TOPIC_URNS",
    }
)
TUNABLE: frozenset[str] = frozenset(ENV_NAMES.values()) - WIRED
