"""Run in a fresh interpreter by ``cold_start``: import a handler module, invoke it once, report timings.

Usage: python _cold_probe.py HANDLER_FILE HANDLER_NAME EVENT_FILE RESULT_FILE [SYS_PATH...]
Only the standard library is imported before the timer starts; the handler prints to stdout freely
(Powertools logs and metrics), so the figures go to RESULT_FILE.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time


class ProbeContext:
    """The attributes of a Lambda context that Powertools reads."""

    function_name = "cold-start-probe"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-central-1:111122223333:function:cold-start-probe"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def main(argv: list[str]) -> int:
    handler_file, handler_name, event_file, result_file, *extra_path = argv
    sys.path[:0] = extra_path
    with open(event_file, encoding="utf-8") as stream:
        event = json.load(stream)
    began = time.perf_counter()
    spec = importlib.util.spec_from_file_location("probed_handler", handler_file)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {handler_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    imported = time.perf_counter()
    result = getattr(module, handler_name)(event, ProbeContext())
    invoked = time.perf_counter()
    with open(result_file, "w", encoding="utf-8") as stream:
        json.dump(
            {
                "import_ms": (imported - began) * 1000,
                "invoke_ms": (invoked - imported) * 1000,
                "result": result,
            },
            stream,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
