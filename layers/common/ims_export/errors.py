"""Typed errors of ims-export.

Every error carries a stable ``name`` (its class name), which the state machine matches in Retry and
Catch (Lambda reports it as ``errorType``). ``retryable`` tells whether trying again later can help.
Messages never contain credentials or tokens.
"""

from __future__ import annotations


class ImsExportError(Exception):
    """Base class of every error this project raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message

    def to_dict(self) -> dict[str, str | int | bool | None]:
        """A JSON-safe description, for state payloads and outcome events."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "retryable": self.retryable,
        }


# --- bad input: no call is made, nothing is started -------------------------------------------


class InvalidRequestError(ImsExportError):
    """The event or request cannot be understood or breaks a documented rule."""


class ConfigurationError(ImsExportError):
    """A setting is missing or malformed."""


# --- transient: worth retrying with backoff -----------------------------------------------------


class TransientError(ImsExportError):
    """Base of errors that may succeed when tried again later."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after_seconds = retry_after_seconds


class UpstreamThrottledError(TransientError):
    """HTTP 429, IMG.0060 flow control or IAM.0012 throttling."""


class UpstreamUnavailableError(TransientError):
    """HTTP 5xx from IAM or IMS."""


class UpstreamTimeoutError(TransientError):
    """Connect or read timeout, or a dropped connection."""


class TokenRefreshInProgressError(TransientError):
    """Another invocation is refreshing the IAM token and it did not appear in time."""


# --- authentication -----------------------------------------------------------------------------


class AuthenticationError(ImsExportError):
    """IAM refused the credentials (401): wrong user, password or domain."""


class AccountLockedError(AuthenticationError):
    """IAM.0061: the IAM user is locked."""


class AuthorizationError(ImsExportError):
    """HTTP 403 from IAM or IMS: the user lacks a permission or is disabled."""


class TokenRejectedError(ImsExportError):
    """IMS answered 401 to a token even after one refresh."""


class TokenTooLargeError(ImsExportError):
    """The token cannot be stored within the SSM parameter size limits."""


class TokenCacheCorruptError(ImsExportError):
    """The token cache parameter holds something that is not a cache record (it is then refreshed)."""


# --- IMS terminal errors ------------------------------------------------------------------------


class ImsRequestError(ImsExportError):
    """IMS refused the request for a reason that retrying will not change."""


class ImageNotFoundError(ImsRequestError):
    """IMG.0027 or an empty lookup: the image id does not exist in this project."""


class ImageNotExportableError(ImsRequestError):
    """The image is of a kind that IMS cannot export (IMG.0071, 0077, 0079, 0080, 0081, 0128, ...)."""


class ImageNotReadyError(ImsRequestError):
    """IMG.0046: the image is not active (yet)."""


class ExportTargetError(ImsRequestError):
    """The bucket or object name is refused (IMG.0058, 0068, 0069, 0073-0075, 0109, 0175)."""


class ObjectAlreadyExistsError(ImsRequestError):
    """IMG.0070: the target object exists already; IMS never overwrites."""


class ExportAlreadyRunningError(ImsRequestError):
    """IMG.0148: this image is being exported already."""


class JobNotFoundError(ImsRequestError):
    """The job id is unknown to IMS."""


class UnexpectedResponseError(ImsExportError):
    """IMS or IAM answered with something this client does not understand."""


# --- OBS: temporary credentials, checking and retiring exported objects -----------------------


class TemporaryCredentialsDeniedError(AuthorizationError):
    """IAM would not issue temporary credentials (403, or 400 to the narrowing policy).

    Verification that cannot run reports ``unverified`` with this reason; it never fails the export.
    """


class ObsAccessDeniedError(AuthorizationError):
    """HTTP 403 from OBS: AccessDenied, SignatureDoesNotMatch, an unknown or expired temporary key."""


class ObsRequestError(ImsExportError):
    """OBS refused the request for a reason that retrying will not change."""


class BucketNotFoundError(ObsRequestError):
    """NoSuchBucket: the bucket does not exist (or not in this region)."""


# --- SMN notifications --------------------------------------------------------------------------


class SignatureVerificationError(InvalidRequestError):
    """An SMN message is unsigned, tampered, stale, or names a certificate from a host not allowed."""


class SubscriptionConfirmationError(ImsExportError):
    """SMN refused to confirm an HTTP(S) subscription (for example an expired confirmation link)."""


# --- duplicate protection -----------------------------------------------------------------------


class IdempotencyStoreError(TransientError):
    """The idempotency table could not be read or written before the export was started."""
