"""Start step of the export state machine: normalize the trigger, check the image, start the export.

The same function stores a running job for its continuation (``hand_over``) and builds the outcome of
the state an export ended in (``outcome``), saying which duplicate records the state machine drops for a
failed export: the state machine's own states send those payloads.
Errors propagate: Step Functions sees the exception's class name as the error name (Retry/Catch).
The duplicate guard holds no client: the function decides, the state machine's DynamoDB tasks write.
The SMN verifier (with its certificate cache) and the hand-over store live as long as the execution
environment, so warm invocations reuse them. The store is built on first use: it brings boto3 and a
DynamoDB client, which only a continuation (continue-as-new) needs. Likewise the verifier, the hand-over
and the outcome are imported by the request that needs them: an export's cold start loads none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ims_export import runtime
from ims_export.cloud.http import new_session
from ims_export.errors import SmnMessageRefusedError
from ims_export.log_setup import quiet_sdk_loggers
from ims_export.parsing import parse_model
from ims_export.settings import Settings
from ims_export.steps.export_guard import export_claims
from ims_export.steps.handover import HandOverStore, dynamodb_handover_store
from ims_export.steps.start import SmnHandler, start
from ims_export.steps.states import (
    Claiming,
    Duplicate,
    HandOverRequest,
    NotificationHandled,
    OutcomeRequest,
    Recording,
    StartInput,
    StartResult,
    WaitingForClaim,
    WaitingForImage,
    step_request_kind,
)
from ims_export.triggers.events import event_kind

if TYPE_CHECKING:
    from ims_export.smn.messages import SmnOutcome
    from ims_export.steps.states import DescribedOutcome, HandOverResult

logger = Logger()
metrics = Metrics()
quiet_sdk_loggers()

# Built on first use from the settings they depend on; rebuilt only if those change (tests do that).
_smn_handlers: dict[tuple[tuple[str, ...], str | None], SmnHandler] = {}
_handovers: dict[str, HandOverStore] = {}


Built = TypeVar("Built")


class _OnFirstUse(Generic[Built]):
    def __init__(self, build: Callable[[], Built]) -> None:
        self._build = build
        self._built: Built | None = None

    def built(self) -> Built:
        if self._built is None:
            self._built = self._build()
        return self._built


class HandOverStoreOnFirstUse(_OnFirstUse[HandOverStore]):
    """A ``HandOverStore`` built on its first put or claim."""

    def put(self, ticket: str, job: Mapping[str, Any], *, execution_name: str, expires_at: int) -> None:
        self.built().put(ticket, job, execution_name=execution_name, expires_at=expires_at)

    def claim(self, ticket: str, *, execution_name: str, now: int) -> Mapping[str, Any] | None:
        return self.built().claim(ticket, execution_name=execution_name, now=now)


def handover_store(settings: Settings) -> HandOverStore | None:
    """The process-wide store of hand-over records (none without an idempotency table)."""
    table = settings.idempotency_table
    if not table:
        return None
    if table not in _handovers:
        _handovers[table] = HandOverStoreOnFirstUse(partial(dynamodb_handover_store, table))
    return _handovers[table]


def smn_handler(settings: Settings) -> SmnHandler:
    """The process-wide SMN handler: one verifier (and certificate cache) and one HTTPS session."""
    # Only SMN deliveries verify a message: the verifier's modules stay off the other paths.
    from ims_export.smn.certs import DEFAULT_CERT_URL_PATTERN  # noqa: PLC0415
    from ims_export.smn.messages import handle_smn_message, new_smn_verifier  # noqa: PLC0415

    key = (settings.smn_allowed_topic_urns, settings.smn_cert_url_pattern)
    if key not in _smn_handlers:
        session = new_session()
        verifier = new_smn_verifier(
            session,
            allowed_cert_url_pattern=settings.smn_cert_url_pattern or DEFAULT_CERT_URL_PATTERN,
            # An empty allow-list accepts no topic at all, never every topic.
            allowed_topic_urns=frozenset(settings.smn_allowed_topic_urns),
        )
        _smn_handlers[key] = partial(handle_smn_message, verifier=verifier, session=session)
    return _smn_handlers[key]


def _handle_smn(settings: Settings, body: Any) -> SmnOutcome:
    """The SMN handler, built when a delivery arrives (an export of another trigger needs none)."""
    return smn_handler(settings)(body)


def _log_result(start_input: StartInput, result: StartResult) -> None:
    if isinstance(result, Recording):  # the state machine records the job on the claims first
        result = result.then
    if isinstance(result, Claiming):
        logger.debug("claiming the export", extra={"claiming": result.pending.claiming})
    elif isinstance(result, WaitingForClaim):
        logger.info(
            "another execution is starting this export: waiting for its claim",
            extra={"image_id": result.pending.request.image_id, "wait_seconds": result.wait_seconds},
        )
    elif isinstance(result, WaitingForImage):
        logger.info(
            "image not ready yet",
            extra={
                "image_id": result.order.image_id,
                "image_status": result.image_status,
                "checks": result.checks,
            },
        )
    elif isinstance(result, NotificationHandled):
        logger.info(
            "SMN message handled without an export",
            extra={"action": result.action, "topic_urn": result.topic_urn, "message_id": result.message_id},
        )
    elif isinstance(result, Duplicate):
        metrics.add_metric(name="DuplicateTrigger", unit=MetricUnit.Count, value=1)
        logger.info(
            "duplicate trigger: the export was started by another execution",
            extra={
                "job_id": result.job.job_id,
                "original_execution": result.original_execution,
                "original_status": result.original_status,
            },
        )
    elif event_kind(start_input.event) == "resume":
        logger.info("resuming export", extra={"job_id": result.job.job_id, "polls": result.job.polls})
    else:
        metrics.add_metric(name="ExportStarted", unit=MetricUnit.Count, value=1)
        logger.info(
            "export started",
            extra={
                "job_id": result.job.job_id,
                "image_id": result.job.image_id,
                "bucket_url": result.job.bucket_url,
            },
        )


def _start(start_input: StartInput) -> StartResult:
    with runtime.counting_upstream_events(metrics):
        clients = runtime.get_clients()
        try:
            result = start(
                start_input,
                clients,
                now=clients.clock(),
                smn=partial(_handle_smn, clients.settings),
                handovers=handover_store(clients.settings),
            )
        except SmnMessageRefusedError as refused:
            metrics.add_metric(name="SmnDeliveryRefused", unit=MetricUnit.Count, value=1)
            logger.warning("SMN delivery refused", extra={"code": refused.code})
            raise
    _log_result(start_input, result)
    return result


def _hand_over(request: HandOverRequest) -> HandOverResult:
    from ims_export.steps.continuation import hand_over  # noqa: PLC0415 - only continuations hand over

    clients = runtime.get_clients()
    handed = hand_over(request, handover_store(clients.settings), now=clients.clock())
    logger.info("job handed over", extra={"job_id": request.hand_over.job_id, "to": handed.continuation_name})
    return handed


def _outcome(request: OutcomeRequest) -> DescribedOutcome:
    # Only the end of an execution describes its outcome.
    from ims_export.steps.outcome import build_outcome  # noqa: PLC0415
    from ims_export.steps.release import release_failed_export  # noqa: PLC0415

    clients = runtime.get_clients()
    ended = request.outcome
    described = build_outcome(ended, now=clients.clock(), settings=clients.settings)
    described = release_failed_export(
        described, ended.state, export_claims(clients.settings), execution=ended.execution_id
    )
    outcome = described.outcome
    logger.info(
        "export outcome", extra={"status": outcome.status, "error": outcome.error, "route": described.route}
    )
    return described


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kind = step_request_kind(event)
    if kind == "hand_over":
        return _hand_over(parse_model(HandOverRequest, event)).model_dump(mode="json")
    if kind == "outcome":
        return _outcome(parse_model(OutcomeRequest, event)).model_dump(mode="json", exclude_none=True)
    return _start(parse_model(StartInput, event)).model_dump(mode="json")
