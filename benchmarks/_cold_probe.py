"""Run in a fresh interpreter by ``cold_start``: import a handler as Lambda does, invoke it once, report.

Usage: python -S _cold_probe.py EVENT_FILE RESULT_FILE SYS_PATH...
The handler is ``_HANDLER`` (``module.function``) from the environment, imported by module name from the
given sys.path (task root first, as Lambda's bootstrap does). Only the standard library is imported
before the timer starts; the handler prints to stdout freely (Powertools logs and metrics), so the
figures go to RESULT_FILE: import and first-call milliseconds, peak RSS, and the handler's answer.

A start step that answers with a duplicate claim (``"phase": "claiming"``: the state machine's
putItem comes next) is called again with the claim made, as ClaimRecord would on a free table, until
it has POSTed the export: the figures cover that whole start (the later calls warm, as on Lambda),
and the answer is what the state machine polls (``then`` of its ``recording`` answer).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time

HANDLER_IMPORT_MARKER = "cold-start probe: handler import begins"


class ProbeContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "cold-start-probe")
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:eu-central-1:111122223333:function:{function_name}"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def main(argv: list[str]) -> int:
    event_file, result_file, *lambda_path = argv
    # Lambda's sys.path: its directories, then the standard library (no site-packages of this machine).
    sys.path[:] = [*lambda_path, *(entry for entry in sys.path[1:] if "site-packages" not in entry)]
    module_name, handler_name = os.environ["_HANDLER"].rsplit(".", 1)
    with open(event_file, encoding="utf-8") as stream:
        event = json.load(stream)
    # Marks where the handler's imports begin in ``-X importtime`` output (the probe's own come before).
    print(HANDLER_IMPORT_MARKER, file=sys.stderr, flush=True)
    began = time.perf_counter()
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    handler = getattr(module, handler_name)
    result = handler(event, ProbeContext())
    while isinstance(result, dict) and result.get("phase") == "claiming":
        result = handler({"state": {**result, "claimed": {}}, "execution_id": "probe"}, ProbeContext())
    if isinstance(result, dict) and result.get("phase") == "recording":
        result = result["then"]
    invoked = time.perf_counter()
    with open(result_file, "w", encoding="utf-8") as stream:
        json.dump(
            {
                "import_ms": (imported - began) * 1000,
                "invoke_ms": (invoked - imported) * 1000,
                # Linux reports kilobytes.
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "result": result,
            },
            stream,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
