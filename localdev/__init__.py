"""Local development tooling for ims-export: emulators and runners, never deployed."""

import json
import os
import signal
import sys
from types import FrameType


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    sentence = "interrupted while starting: no execution was started, nothing was exported"
    sys.stderr.write(sentence + "\n")
    sys.stderr.flush()
    # The runner's one result document (localdev/result.py), written by hand: nothing else has loaded.
    document = {
        "status": "INTERRUPTED",
        "detail_type": "Local Run Interrupted",
        "stage": "run",
        "error": "Interrupted",
        "message": sentence,
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()
    os._exit(128 + signum)  # 130 for SIGINT, 143 for SIGTERM, as shells report them


# ``python -m localdev.run`` (the runner only: the other tools handle Ctrl-C their own way): while the
# module is being located, sys.argv[0] is "-m" (Python's documented behaviour) and sys.orig_argv names
# the module. A Ctrl-C while its imports load then ends in one sentence, not a traceback; the runner's
# main() takes Ctrl-C over (``restore_interrupts``).
_RUNNER = "localdev.run"
if sys.argv[:1] == ["-m"] and _RUNNER in getattr(sys, "orig_argv", [])[1:]:
    signal.signal(signal.SIGINT, _interrupted_while_loading)
    signal.signal(signal.SIGTERM, _interrupted_while_loading)


def restore_interrupts() -> None:
    """Ctrl-C raises KeyboardInterrupt again (the tool handles it from here on)."""
    if signal.getsignal(signal.SIGINT) is _interrupted_while_loading:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is _interrupted_while_loading:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the runner's main() takes it over
