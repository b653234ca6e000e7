"""How a local run ends when it does not run to the execution's end: its exit code, its sentence on
stderr and its document on stdout (``localdev/result.py``), never a traceback."""

from __future__ import annotations

import json
import sys

from localdev.result import local_document
from localdev.routing import NoMatchingTriggerError
from localdev.runner.errors import RunError, Terminated
from localdev.runner.text import say
from localdev.runner.watch import RunInterrupted, RunWatch

# Exit codes (docs/local-runs.md): 0 succeeded, 1 the execution failed, 2 refused before it started.
EXIT_SUCCEEDED, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
EXIT_GAVE_UP = 124  # TIMEOUT passed, the export goes on (as timeout(1) exits)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
EXIT_TERMINATED = 143  # SIGTERM (a CI job cancelled, `timeout`, `kill`): 128 + SIGTERM
LOGS_HINT = "(VERBOSE=1 shows the functions' logs)"


def ended_by(error: BaseException, watch: RunWatch) -> int:
    """The ending of a run that ``error`` (Ctrl-C, SIGTERM, TIMEOUT, a refusal or anything else) stopped."""
    if isinstance(error, KeyboardInterrupt):
        watch.cancel()
        code = EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED
        return end_run(watch, code, "INTERRUPTED", "Interrupted", watch.interrupted())
    if isinstance(error, TimeoutError):
        if watch.timeout is None:  # not the wait's own limit: a timeout somewhere else broke the run
            return end_run(
                watch, EXIT_FAILED, "FAILED", "RunBroke", f"error: the run broke: {error} {LOGS_HINT}"
            )
        return end_run(watch, EXIT_GAVE_UP, "TIMED_OUT", "GaveUp", watch.gave_up(watch.timeout))
    if isinstance(error, RunError | NoMatchingTriggerError):
        return end_run(watch, EXIT_REFUSED, "REFUSED", "RunRefused", f"refused: {error}")
    if isinstance(error, RunInterrupted):  # pragma: no cover - only a cancelled wait raises it, after Ctrl-C
        return end_run(watch, EXIT_INTERRUPTED, "INTERRUPTED", "Interrupted", watch.interrupted())
    if isinstance(error.__context__ or error.__cause__, KeyboardInterrupt):
        # Ctrl-C inside a library that turned it into its own error (pydantic's schema build, say)
        watch.cancel()
        return end_run(watch, EXIT_INTERRUPTED, "INTERRUPTED", "Interrupted", watch.interrupted())
    message = f"error: the run broke: {type(error).__name__}: {error} {LOGS_HINT}"
    return end_run(watch, EXIT_FAILED, "FAILED", type(error).__name__, message)


def end_run(watch: RunWatch, code: int, status: str, error: str, sentence: str) -> int:
    """An ending of the run itself: its sentence on stderr, its document on stdout."""
    say(sys.stderr, sentence)
    print(json.dumps(local_document(status, error=error, message=sentence, **watch.known()), indent=2))
    return code
