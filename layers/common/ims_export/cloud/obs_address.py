"""Where OBS requests go: the endpoint of a cloud and region (virtual-hosted style), or an explicit endpoint
(path style, as local tools use), and an object's address for users."""

from __future__ import annotations

from urllib.parse import urlsplit

from ims_export.cloud.obs_signature import quote_key
from ims_export.errors import ConfigurationError
from ims_export.settings import Cloud

# OTC's Swiss region lives under sc.otc.t-systems.com, as its IAM host does ("Regions and Endpoints").
OTC_OBS_HOST_EXCEPTIONS = {"eu-ch2": "obs.eu-ch2.sc.otc.t-systems.com"}
# Huawei Cloud Europe uses its own domain for IMS and IAM ("Regions and Endpoints"); OBS follows it
# (inferred, and what public OBS configurations for eu-west-101 use).
HUAWEI_OBS_HOST_EXCEPTIONS = {"eu-west-101": "obs.eu-west-101.myhuaweicloud.eu"}


def default_obs_host(cloud: Cloud, region: str) -> str:
    if cloud is Cloud.OTC:
        return OTC_OBS_HOST_EXCEPTIONS.get(region, f"obs.{region}.otc.t-systems.com")
    return HUAWEI_OBS_HOST_EXCEPTIONS.get(region, f"obs.{region}.myhuaweicloud.com")


class ObsAddress:
    """Where requests for a bucket and key go, and the object's address for users."""

    def __init__(self, cloud: Cloud, region: str, endpoint: str | None = None) -> None:
        if endpoint:
            parts = urlsplit(endpoint.strip())
            if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
                raise ConfigurationError("OBS_ENDPOINT must be an http(s) URL without query or fragment")
            self._scheme, self._host = parts.scheme, parts.netloc
            self._prefix = parts.path.rstrip("/")
            self.path_style = True
        else:
            self._scheme, self._host, self._prefix = "https", default_obs_host(cloud, region), ""
            self.path_style = False

    def host(self, bucket: str) -> str:
        return self._host if self.path_style else f"{bucket}.{self._host}"

    def url(self, bucket: str, key: str | None = None) -> str:
        path = f"/{quote_key(key)}" if key else "/"
        if self.path_style:
            return f"{self._scheme}://{self._host}{self._prefix}/{bucket}{path}"
        return f"{self._scheme}://{bucket}.{self._host}{path}"

    def __repr__(self) -> str:
        style = "path-style" if self.path_style else "virtual-hosted"
        return f"ObsAddress({self._scheme}://{self._host}{self._prefix}, {style})"
