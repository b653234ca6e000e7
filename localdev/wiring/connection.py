"""The cloud the wiring command talks to, from the OpenStack configuration users already have
(``OS_CLOUD``/clouds.yaml or ``OS_*``, read by ``localdev/cloud_config``): an IAM token for SMN, and
temporary credentials narrowed to the bucket's notification configuration for OBS.

Endpoints are derived as the project derives IAM's and OBS's: ``smn.<region>.<cloud domain>`` and
``obs.<region>.<cloud domain>`` (``CLOUD``: otc, the default, or huawei), with the same regional
exceptions; ``SMN_API_ENDPOINT`` and ``OBS_ENDPOINT`` name others (the local emulator's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from ims_export.cloud.http import new_session
from ims_export.cloud.iam import IamClient
from ims_export.cloud.obs import ObsClient
from ims_export.cloud.temporary_credentials import POLICY_VERSION, TemporaryCredentialsClient
from ims_export.domain.credentials import Credentials
from ims_export.domain.tokens import IssuedToken
from ims_export.errors import TemporaryCredentialsDeniedError
from ims_export.settings import CLOUD_DOMAINS, Cloud, default_iam_endpoint
from localdev.cloud_config import CloudSettings, cloud_settings
from localdev.wiring.bucket_notification import BucketNotificationClient
from localdev.wiring.inputs import LOOPBACK_HOST, WiringInputError
from localdev.wiring.smn_client import SmnClient

TIMEOUT = (3.05, 20.0)
# SMN hosts that do not follow smn.<region>.<cloud domain>, as IAM's and OBS's do not there.
SMN_HOST_EXCEPTIONS = {
    Cloud.OTC: {"eu-ch2": "smn.eu-ch2.sc.otc.t-systems.com"},
    Cloud.HUAWEI: {"eu-west-101": "smn.eu-west-101.myhuaweicloud.eu"},
}
NOTIFICATION_ACTIONS = ("obs:bucket:GetBucketNotification", "obs:bucket:PutBucketNotification")


def default_smn_endpoint(cloud: Cloud, region: str) -> str:
    host = SMN_HOST_EXCEPTIONS[cloud].get(region, f"smn.{region}.{CLOUD_DOMAINS[cloud]}")
    return f"https://{host}"


def notification_policy(bucket: str) -> dict[str, Any]:
    """Temporary credentials that may read and write the bucket's notification configuration only."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(NOTIFICATION_ACTIONS),
                "Resource": [f"obs:*:*:bucket:{bucket}"],
            }
        ],
    }


def _explicit_endpoint(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise WiringInputError(f"{name} {value!r} is not a URL") from None
    # A user part, a backslash or a query makes hosts read differently by this check and by the HTTP
    # client (http://evil\@127.0.0.1): the token would go to another host, in clear text.
    if parts.username or parts.password or parts.query or parts.fragment or "\\" in value or "@" in value:
        raise WiringInputError(f"{name} must be a plain URL (scheme, host, port, path), not {value!r}")
    if any(char.isspace() for char in value):
        raise WiringInputError(f"{name} must be a plain URL, without spaces, not {value!r}")
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname == LOOPBACK_HOST)
    ):
        raise WiringInputError(
            f"{name} must be an https:// URL (http:// only for {LOOPBACK_HOST}), not {value!r}"
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class Target:
    """Where the calls go, read from the environment before any call."""

    cloud: Cloud
    region: str
    settings: CloudSettings
    iam_endpoint: str
    smn_endpoint: str
    obs_endpoint: str | None

    def describe(self) -> str:
        return f"{self.cloud.value} region {self.region} ({self.settings.source})"


def read_target(environ: Mapping[str, str]) -> Target:
    """The cloud and its endpoints; CloudConfigError or WiringInputError for what is missing."""
    settings = cloud_settings(environ)
    try:
        cloud = Cloud((environ.get("CLOUD") or Cloud.OTC.value).lower())
    except ValueError:
        raise WiringInputError(f"CLOUD must be otc or huawei, not {environ.get('CLOUD')!r}") from None
    region = settings.region_name or (environ.get("CLOUD_REGION") or "").strip()
    if not region:
        raise WiringInputError("no region: set OS_REGION_NAME (or region_name in clouds.yaml), e.g. eu-de")
    return Target(
        cloud=cloud,
        region=region,
        settings=settings,
        iam_endpoint=settings.auth_url or default_iam_endpoint(cloud, region),
        smn_endpoint=_explicit_endpoint(environ, "SMN_API_ENDPOINT") or default_smn_endpoint(cloud, region),
        obs_endpoint=_explicit_endpoint(environ, "OBS_ENDPOINT"),
    )


class _OneUserTokens:
    """The TokenSource temporary credentials need: the token of this run, a new one if IAM refused it."""

    def __init__(self, iam: IamClient, credentials: Credentials, token: IssuedToken) -> None:
        self._iam, self._credentials, self._token = iam, credentials, token

    def current(self) -> IssuedToken:
        return self._token

    def invalidate(self, token: IssuedToken) -> None:
        self._token = self._iam.issue_token(self._credentials)


@dataclass(frozen=True)
class Clients:
    smn: SmnClient
    obs: BucketNotificationClient
    project_id: str
    secrets: tuple[str, ...]  # what output must never show


def connect(target: Target, bucket: str, session: requests.Session | None = None) -> Clients:
    """An IAM token, SMN with it, and OBS with temporary credentials narrowed to the bucket's notification
    configuration (un-narrowed where the cloud refuses a policy, as the export steps do)."""
    session = session or new_session()
    settings = target.settings
    credentials = Credentials(
        user_name=settings.username,
        password=SecretStr(settings.password),
        domain_name=settings.domain_name,
        project_name=settings.project_name or (None if settings.project_id else target.region),
        project_id=settings.project_id or None,
    )
    iam = IamClient(target.iam_endpoint, session, TIMEOUT)
    token = iam.issue_token(credentials)
    issuer = TemporaryCredentialsClient(
        _OneUserTokens(iam, credentials, token), target.iam_endpoint, session, TIMEOUT
    )
    try:
        temporary = issuer.issue(policy=notification_policy(bucket))
    except TemporaryCredentialsDeniedError as error:
        if error.status != 400:
            raise
        temporary = issuer.issue()
    obs = ObsClient(
        temporary, session, TIMEOUT, cloud=target.cloud, region=target.region, endpoint=target.obs_endpoint
    )
    return Clients(
        smn=SmnClient(target.smn_endpoint, token, session, TIMEOUT),
        obs=BucketNotificationClient(obs),
        project_id=token.project_id,
        secrets=(settings.password, token.value.get_secret_value(), *temporary.secret_values()),
    )
