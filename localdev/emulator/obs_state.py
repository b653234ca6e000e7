"""What the emulated OBS and IAM's securitytokens API know beyond the buckets: the temporary
credentials IAM issued (with the policy that narrows them), switches for IAM's refusals, injected OBS
failures and request counts. Objects themselves live in ``EmulatorState.buckets``.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase


class ObsRoute(StrEnum):
    SECURITY_TOKENS = "iam_security_tokens"  # POST /v3.0/OS-CREDENTIAL/securitytokens
    HEAD = "obs_head"  # HEAD /{bucket}/{key}
    HEAD_BUCKET = "obs_head_bucket"  # HEAD /{bucket}: its metadata (storage class, location)
    BUCKET_LOCATION = "obs_bucket_location"  # GET /{bucket}?location
    BUCKET_STORAGE_CLASS = "obs_bucket_storage_class"  # GET /{bucket}?storageClass
    LIST = "obs_list"  # GET /{bucket}
    DELETE = "obs_delete"  # DELETE /{bucket}/{key}
    GET_NOTIFICATION = "obs_get_notification"  # GET /{bucket}?notification
    PUT_NOTIFICATION = "obs_put_notification"  # PUT /{bucket}?notification


class ObsFailure(StrEnum):
    """Injected OBS answers (IAM's securitytokens API answers the same statuses with its JSON body)."""

    INTERNAL_ERROR = "internal_error"  # 500 InternalError
    SERVICE_UNAVAILABLE = "service_unavailable"  # 503 ServiceUnavailable
    SLOW_DOWN = "slow_down"  # 503 SlowDown


@dataclass(frozen=True)
class PolicyStatement:
    effect: str  # Allow or Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        """IAM wildcards: '*' anywhere; action names are case-insensitive, as is the 'obs:' prefix."""
        action_matches = any(fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)
        resource_matches = not self.resources or any(
            fnmatchcase(resource, _service_lower(pattern)) for pattern in self.resources
        )
        return action_matches and resource_matches


def _service_lower(pattern: str) -> str:
    service, colon, rest = pattern.partition(":")
    return f"{service.lower()}{colon}{rest}"


@dataclass
class TemporaryCredential:
    access_key_id: str
    secret: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float
    # None: no policy was sent, the credentials carry the user's own (here: all) OBS permissions.
    statements: tuple[PolicyStatement, ...] | None = None

    def allows(self, action: str, resource: str) -> bool:
        if self.statements is None:
            return True
        matching = [statement for statement in self.statements if statement.matches(action, resource)]
        if any(statement.effect == "Deny" for statement in matching):
            return False
        return any(statement.effect == "Allow" for statement in matching)


class ObsState:
    """Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: dict[str, TemporaryCredential] = {}
        self._failures: dict[ObsRoute, deque[ObsFailure]] = {}
        self._requests: Counter[str] = Counter()
        self.credentials_denied = False  # IAM answers 403 to securitytokens
        # HEAD bucket answers with x-obs-storage-class and x-obs-bucket-location (an S3-compatible
        # endpoint does not: clients then ask the ?storageClass and ?location sub-resources).
        self.bucket_metadata_headers = True
        # OBS actions the IAM user itself may not do (a bucket policy or the user's role says no).
        self.denied_actions: frozenset[str] = frozenset()
        self.policy_refused = False  # IAM answers 400 to a request that carries a policy
        # What a finished export job leaves in its bucket: nothing (IMS says SUCCESS, the object is
        # lost), or an object whose last modification lies this many seconds before the job began.
        self.exports_lost = False
        self.exports_backdated_seconds = 0.0

    def add_credential(self, credential: TemporaryCredential) -> None:
        with self._lock:
            self._credentials[credential.access_key_id] = credential

    def credential(self, access_key_id: str) -> TemporaryCredential | None:
        with self._lock:
            return self._credentials.get(access_key_id)

    def issued_credentials(self) -> list[TemporaryCredential]:
        with self._lock:
            return list(self._credentials.values())

    def expire_credentials(self, now: float) -> int:
        with self._lock:
            for credential in self._credentials.values():
                credential.expires_at = min(credential.expires_at, now)
            return len(self._credentials)

    @property
    def credentials_issued(self) -> int:
        with self._lock:
            return len(self._credentials)

    def inject(self, route: ObsRoute, failure: ObsFailure, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._failures.setdefault(ObsRoute(route), deque()).extend([ObsFailure(failure)] * times)

    def take_failure(self, route: ObsRoute) -> ObsFailure | None:
        with self._lock:
            queue = self._failures.get(route)
            return queue.popleft() if queue else None

    def count(self, route: ObsRoute) -> None:
        with self._lock:
            self._requests[str(route)] += 1

    def requests(self, route: ObsRoute | str) -> int:
        with self._lock:
            return self._requests[str(ObsRoute(route))]
