"""The fault matrix's rows, in the order of its table: IAM, IMS, the token, SSM, the token cache and a
lost response."""

from __future__ import annotations

from localdev.fault_matrix.cases import (
    GARBAGE_CACHE_VALUE,
    OVERSIZED_CACHE_VALUE,
    FaultCase,
    Outcome,
    expire_tokens,
    inject_fault,
    lock_user,
    ok,
    revoke_tokens,
)
from localdev.fault_matrix.ims_rows import ims_rows


def _build_cases() -> tuple[FaultCase, ...]:
    return (
        FaultCase("baseline", "none", "no fault", ok()),
        # --- IAM ---------------------------------------------------------------------------------------
        FaultCase(
            "iam_500",
            "IAM",
            "HTTP 500 then 503 on the token request",
            ok(iam_calls=3),
            lambda c: (
                inject_fault("iam_token", "server_error")(c),
                inject_fault("iam_token", "unavailable")(c),
            ),
        ),
        FaultCase(
            "iam_429",
            "IAM",
            "HTTP 429 (IAM.0012) on the token request, twice",
            ok(iam_calls=3),
            inject_fault("iam_token", "iam_throttled", 2),
        ),
        FaultCase(
            "iam_wrong_credentials",
            "IAM",
            "wrong password (IAM.0062)",
            Outcome("FAILED", "AuthenticationError", 0, 1),
            wrong_password=True,
            why="not retried: repeated wrong passwords would lock the account",
        ),
        FaultCase(
            "iam_locked",
            "IAM",
            "account locked (IAM.0061)",
            Outcome("FAILED", "AccountLockedError", 0, 1),
            lock_user,
        ),
        FaultCase(
            "iam_201_without_token",
            "IAM",
            "IAM answers 201 without X-Subject-Token",
            ok(iam_calls=2),
            inject_fault("iam_token", "no_subject_token"),
            why="transient: the step is retried",
        ),
        FaultCase(
            "iam_refused",
            "IAM",
            "IAM endpoint at a closed port (connection refused)",
            Outcome("FAILED", "UpstreamUnreachableError", 0, 0),
            iam_at_closed_port=True,
            why='"could not connect to <host>" after 2 logged retries in the step',
        ),
        FaultCase(
            "catalog_image_entry",
            "IAM",
            "no IMS_ENDPOINT: the token catalog's image entry is used",
            ok(),
            settings={"IMS_ENDPOINT": ""},
        ),
        FaultCase(
            "catalog_without_image",
            "IAM",
            "no IMS_ENDPOINT and a token catalog without an image entry",
            ok(),
            dialect={"catalog_image_entry": False},
            settings={"IMS_ENDPOINT": ""},
            why="the IMS endpoint is derived from cloud and region (logged)",
        ),
        *ims_rows(),
        # --- the token -------------------------------------------------------------------------------
        FaultCase(
            "token_revoked",
            "token",
            "token revoked after the export started (IMS 401)",
            ok(iam_calls=2),
            mid_run=revoke_tokens,
            why="one refresh, then the job query succeeds",
        ),
        FaultCase(
            "token_expired",
            "token",
            "token expired early, after the export started (IMS 401)",
            ok(iam_calls=2),
            mid_run=expire_tokens,
            why="one refresh, then the job query succeeds",
        ),
        FaultCase(
            "token_short_lived",
            "token",
            "IAM issues 30-minute tokens (less than the 60-minute refresh margin)",
            ok(),
            dialect={"token_lifetime_seconds": 1800},
            why="the margin is capped at a quarter of the token's lifetime",
        ),
        FaultCase(
            "token_skewed_clock",
            "token",
            "30-minute tokens whose expires_at is already past by the local clock (IAM clock 1 h behind)",
            ok(),
            dialect={"token_lifetime_seconds": 1800, "iam_clock_offset_seconds": -3600},
            why="validity is judged on IAM's clock: issued_at to expires_at",
        ),
        # --- SSM -------------------------------------------------------------------------------------
        FaultCase(
            "ssm_credentials_throttled",
            "SSM",
            "the credentials read is throttled once (ThrottlingException)",
            ok(),
            ssm_throttled_once="credentials",
            why="transient: the step is retried",
        ),
        FaultCase(
            "ssm_token_throttled",
            "SSM",
            "the token cache read is throttled once (ThrottlingException)",
            ok(),
            ssm_throttled_once="token",
            why="transient: the step is retried, IAM is not asked for it",
        ),
        # --- the token cache parameter -----------------------------------------------------------
        FaultCase("cache_missing", "token cache", "token cache parameter missing (first run)", ok()),
        FaultCase(
            "cache_corrupt",
            "token cache",
            "token cache parameter holds garbage",
            ok(),
            token_cache_value=GARBAGE_CACHE_VALUE,
        ),
        FaultCase(
            "cache_oversized",
            "token cache",
            f"token cache parameter holds {len(OVERSIZED_CACHE_VALUE):,} characters (more than any tier)",
            ok(),
            token_cache_value=OVERSIZED_CACHE_VALUE,
        ),
        # --- a lost response -------------------------------------------------------------------------
        FaultCase(
            "start_lost_response",
            "start step",
            "IMS accepted the export, then the connection died before the job id was saved",
            Outcome("FAILED", "ExportStateUnknown", 1, 1),
            inject_fault("export", "drop_after_processing"),
            why="the retried call meets the running export (IMG.0148): no second job; the failure says it "
            "is probably this start's own, untracked, and how to follow it",
        ),
    )


CASES: tuple[FaultCase, ...] = _build_cases()
