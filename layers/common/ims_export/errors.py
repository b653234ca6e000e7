"""Typed errors of ims-export.

Every error carries a stable ``name`` (its class name), which the state machine matches in Retry and
Catch (Lambda reports it as ``errorType``). Subclasses of ``TransientError`` are worth trying again later;
the state machine's retriers decide when.
Messages never contain credentials or tokens.
"""

from __future__ import annotations


class ImsExportError(Exception):
    """Base class of every error this project raises on purpose."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message

    def naming(self, subject: str) -> None:
        """Say once which export failed (``export of <subject>: ...``): a failed step's outcome carries
        the error's message only."""
        prefix = f"export of {subject}: "
        if not self.message.startswith(prefix):
            self.message = prefix + self.message
            self.args = (self.message,)


# --- bad input: no call is made, nothing is started -------------------------------------------


class InvalidRequestError(ImsExportError):
    """The event or request cannot be understood or breaks a documented rule."""


class ConfigurationError(ImsExportError):
    """A setting is missing or malformed."""


# --- transient: worth retrying with backoff -----------------------------------------------------


class TransientError(ImsExportError):
    """Base of errors that may succeed when tried again later."""


class UpstreamThrottledError(TransientError):
    """HTTP 429, IMG.0060 flow control or IAM.0012 throttling."""


class UpstreamUnavailableError(TransientError):
    """HTTP 5xx from IAM or IMS."""


class UpstreamTimeoutError(TransientError):
    """Connect or read timeout, or a dropped connection."""


class SmnCertificateUnavailableError(TransientError):
    """The signing certificate of an SMN message could not be fetched (timeout, 5xx): retried; if it
    stays so, the delivery is refused like any message that cannot be verified, and nothing is published."""


class TokenRefreshInProgressError(TransientError):
    """Another invocation is refreshing the IAM token and it did not appear in time."""


class UpstreamUnreachableError(TransientError):
    """No connection could be made to IAM or IMS (refused, unknown host); the message names the host.

    The call is retried a few times in the process before this is raised; the start step does not
    retry it again (a closed port is most often a wrong endpoint), the check step does, with backoff.
    """


class MalformedAnswerError(TransientError):
    """IMS answered a job query with something that shows no job state: an empty or non-JSON body, an
    HTML page, no readable status, or another job. The check step counts these; ``snippet`` is a short,
    redacted start of the answer."""

    def __init__(self, message: str, *, snippet: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.snippet = snippet


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


class UnknownJobStatusError(UnexpectedResponseError):
    """IMS reported a job status that is not documented (SUCCESS, FAIL, RUNNING, INIT in any case):
    polling it could go on forever, so the workflow ends at once, quoting the status."""


class UnreadableJobAnswer(ImsExportError):
    """A sustained run of malformed job answers (``MalformedAnswerError``): the job's state could not be
    read for too long. The export may still be running; the message says how to check it."""


class ExportStateUnknown(ImsExportError):
    """IMS accepted the export call, but its answer holds no readable job id: an export may be running.
    Not retried: a second call would meet IMG.0148 (or start a second export)."""


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


class ExportObjectMissing(ImsExportError):
    """IMS reported SUCCESS, but OBS shows no object at the export's address, or one last modified
    before the export began: nothing usable was written. The export ends as a failure (stage
    ``verify``) and may be run again."""


# --- SMN notifications --------------------------------------------------------------------------


class SignatureVerificationError(InvalidRequestError):
    """An SMN message is unsigned, tampered, stale, or names a certificate from a host not allowed."""


class SmnMessageRefusedError(InvalidRequestError):
    """A delivery to the SMN endpoint is refused before it can act: not an SMN message, not authentic,
    or from a topic not allowed (``code`` says why). The workflow ends without publishing an outcome."""


class SubscriptionConfirmationError(ImsExportError):
    """SMN refused to confirm an HTTP(S) subscription (for example an expired confirmation link)."""


# --- duplicate protection -----------------------------------------------------------------------


class HandOverNotFoundError(InvalidRequestError):
    """A ``resume`` input that no execution of this state machine handed over (or that was claimed
    already): the job is not resumed and nothing about it is published."""


class IdempotencyStoreError(TransientError):
    """The idempotency table could not be read or written before the export was started, or a
    record in it cannot be read."""


class IdempotencyAlreadyInProgressError(ImsExportError):
    """Another execution still held the claim of this export after every wait for it (the state
    machine waits for a claim itself: a retry of the step would find the same claim)."""
