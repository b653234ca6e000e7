"""Test doubles for the auth tests: IAM answers, realistic PKI-style tokens, an SSM that enforces sizes."""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

IAM_ENDPOINT = "https://iam.eu-de.example.test/v3"
TOKENS_URL = f"{IAM_ENDPOINT}/auth/tokens"
IMS_URL = "https://ims.eu-de.example.test"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
PASSWORD = "S3cret-Pa55word!"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

SSM_STANDARD_LIMIT = 4096
SSM_ADVANCED_LIMIT = 8192


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def catalog(*, image_urls: list[tuple[str, str]] | None = None, services: int = 3) -> list[dict[str, Any]]:
    """A token catalog: some services, plus an ``image`` entry with (interface, url) endpoints."""
    entries: list[dict[str, Any]] = [
        {
            "type": f"service{index}",
            "name": f"svc{index}",
            "id": uuid.uuid4().hex,
            "endpoints": [
                {
                    "url": f"https://svc{index}.eu-de.example.test/v2/{PROJECT_ID}",
                    "region": "eu-de",
                    "region_id": "eu-de",
                    "interface": "public",
                    "id": uuid.uuid4().hex,
                }
            ],
        }
        for index in range(services)
    ]
    if image_urls is not None:
        entries.append(
            {
                "type": "image",
                "name": "ims",
                "id": uuid.uuid4().hex,
                "endpoints": [
                    {"url": url, "interface": interface, "region": "eu-de", "id": uuid.uuid4().hex}
                    for interface, url in image_urls
                ],
            }
        )
    return entries


def token_body(
    expires_at: datetime, *, project_id: str = PROJECT_ID, entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The JSON body of IAM's 201 answer (and the payload a PKI token wraps)."""
    return {
        "token": {
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "issued_at": (expires_at - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "methods": ["password"],
            "project": {"id": project_id, "name": "eu-de", "domain": {"id": "d" * 32, "name": "OTC-EU-DE-1"}},
            "user": {
                "id": "u" * 32,
                "name": "ims-export",
                "domain": {"id": "d" * 32, "name": "OTC-EU-DE-1"},
                "password_expires_at": "",
            },
            "roles": [{"id": uuid.uuid4().hex, "name": f"role_{index}"} for index in range(4)],
            "catalog": entries if entries is not None else catalog(image_urls=[("public", IMS_URL)]),
        }
    }


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
DATA_OID = bytes.fromhex("06092a864886f70d010701")
SHA256_OID = bytes.fromhex("0609608648016503040201")


def pki_token(*, min_length: int = 16_000, seed: int = 7, keystone_alphabet: bool = True) -> str:
    """A realistic PKI-style token of at least ``min_length`` characters.

    Base64 of a DER CMS SignedData wrapping the token JSON (user, project, roles, a long catalog of
    endpoints with random ids) and a random 512-byte signature, in Keystone's alphabet ('-' for '/').
    """
    rng = random.Random(seed)
    services = [
        "compute", "image", "volume", "volumev2", "volumev3", "network", "object", "dns", "rds", "dcs",
        "dms", "cce", "cts", "ces", "kms", "smn", "as", "elb", "vpc", "nat", "sfs", "css", "dws", "mrs",
        "waf", "ims", "evs", "ecs", "bms", "vpcep", "dds", "gaussdb", "apig", "fg", "swr", "aom",
    ]  # fmt: skip
    roles = [{"id": f"{rng.getrandbits(128):032x}", "name": f"{svc}_adm"} for svc in services]
    entries: list[dict[str, Any]] = []
    text = ""
    index = 0
    while len(text) < min_length:
        service = services[index % len(services)]
        entries.append(
            {
                "type": service if index < len(services) else f"{service}{index // len(services)}",
                "id": f"{rng.getrandbits(128):032x}",
                "name": service,
                "endpoints": [
                    {
                        "url": f"https://{service}.eu-de.otc.t-systems.com/v{1 + index % 3}/{PROJECT_ID}",
                        "region": "eu-de",
                        "region_id": "eu-de",
                        "interface": "public",
                        "id": f"{rng.getrandbits(128):032x}",
                    }
                ],
            }
        )
        payload = token_body(NOW + timedelta(hours=24), entries=entries)
        payload["token"]["roles"] = roles
        content = json.dumps(payload, separators=(",", ":")).encode()
        signature = bytes(rng.getrandbits(8) for _ in range(512))
        signer_info = _der(
            0x30,
            _der(0x02, b"\x01")
            + _der(0x04, bytes(rng.getrandbits(8) for _ in range(20)))
            + _der(0x30, SHA256_OID + b"\x05\x00")
            + _der(0x30, bytes.fromhex("06092a864886f70d010101") + b"\x05\x00")
            + _der(0x04, signature),
        )
        signed_data = _der(
            0x30,
            _der(0x02, b"\x01")
            + _der(0x31, _der(0x30, SHA256_OID + b"\x05\x00"))
            + _der(0x30, DATA_OID + _der(0xA0, _der(0x04, content)))
            + _der(0x31, signer_info),
        )
        blob = _der(0x30, SIGNED_DATA_OID + _der(0xA0, signed_data))
        text = base64.b64encode(blob).decode()
        index += 1
    return text.replace("/", "-") if keystone_alphabet else text


def random_token(length: int, *, seed: int = 1) -> str:
    """Base64 of random bytes: a token that does not compress."""
    rng = random.Random(seed)
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(length * 3 // 4))).decode()[:length]


@dataclass
class SsmLimits:
    """Makes a moto SSM client refuse what AWS refuses: values over the tier's size, tier downgrades."""

    tiers: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    fail_with: str | None = None  # an error code to refuse every write with
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.ssm.PutParameter", self._check)

    def _refuse(self, code: str, message: str) -> None:
        self.refused.append(code)
        raise ClientError({"Error": {"Code": code, "Message": message}}, "PutParameter")

    def _check(self, params: dict[str, Any], **_: Any) -> None:
        with self.lock:
            name, value, tier = params["Name"], params["Value"], params.get("Tier", "Standard")
            if self.fail_with:
                self._refuse(self.fail_with, "User is not authorized to perform: ssm:PutParameter")
            if self.tiers.get(name) == "Advanced" and tier == "Standard":
                self._refuse(
                    "ValidationException",
                    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
                    "from the advanced-parameter tier to the standard-parameter tier.",
                )
            limit = SSM_ADVANCED_LIMIT if tier == "Advanced" else SSM_STANDARD_LIMIT
            if len(value) > limit:
                # AWS quotes the value in such messages; the cache must never log them.
                self._refuse(
                    "ValidationException",
                    f"1 validation error detected: Value '{value}' at 'value' failed to satisfy "
                    f"constraint: Member must have length less than or equal to {limit}",
                )
            self.tiers[name] = tier


class ApiCalls:
    """Counts the AWS API calls a boto3 client makes (``ssm.GetParameter``, ...)."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-call.{service}", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    def total(self) -> int:
        return sum(self.counts.values())
