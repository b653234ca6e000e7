"""A run as ``make run`` and ``make follow`` ask for it: the event read, the user's variables taken, the
emulator or the real cloud chosen; the execution's document printed and its exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from localdev.cloud_config import wants_real_cloud
from localdev.result import result_document
from localdev.runner.closing import closing_sentence
from localdev.runner.describe import fleet_summary_line
from localdev.runner.emulator_demo import emulator_demo_step
from localdev.runner.endings import EXIT_FAILED, EXIT_REFUSED, EXIT_SUCCEEDED
from localdev.runner.environment import function_logs, isolate_from_aws, quiet_libraries, use_layer_on_path
from localdev.runner.errors import RunError
from localdev.runner.execution import run_workflow
from localdev.runner.follow import FollowRequest
from localdev.runner.parameters import user_parameters, user_settings
from localdev.runner.targets import EMULATOR_BUCKET, CloudTarget, emulated_cloud, real_cloud_target
from localdev.runner.text import one_line, say
from localdev.runner.watch import RunWatch
from localdev.stepfunctions import ExecutionResult

# The emulator's clock jumps over every wait: a run that lasts longer than this hangs (a guard, no budget).
EMULATOR_HANG_GUARD_SECONDS = 900.0


def run_command(args: argparse.Namespace, watch: RunWatch) -> int:
    use_layer_on_path()
    isolate_from_aws()
    quiet_libraries()
    event: Any
    if args.follow is not None:
        if not args.follow.strip():
            raise RunError("make follow needs JOB=<job id> (the id a run printed, or the console shows)")
        if not wants_real_cloud(os.environ):
            raise RunError(
                "following a job needs the real cloud: set OS_CLOUD (clouds.yaml) or OS_AUTH_URL and the "
                "other OS_* variables (the built-in emulator's jobs end with each run)"
            )
        event = FollowRequest(args.follow.strip(), args.image, args.bucket_url)
    else:
        try:
            text = args.event.read_text(encoding="utf-8")
            event = text if args.via == "smn" else json.loads(text)
        except OSError as error:
            raise RunError(f"cannot read event file {args.event}: {error.strerror or error}") from None
        except ValueError as error:
            raise RunError(
                f"event file {args.event} is not JSON ({error}): give a JSON object such as "
                "events/manual.json, or VIA=smn for a raw SMN body"
            ) from None
        watch.image_id = _event_image_id(event)
    overrides = user_parameters(os.environ)
    settings = user_settings(os.environ)
    for name in (*settings, "IMS_EXPORT_SETTINGS"):
        os.environ.pop(name, None)  # they reach the functions through the Settings parameter only
    overrides.setdefault("LogLevel", "DEBUG" if args.verbose else "WARNING")

    def run(target: CloudTarget, timeout: float) -> ExecutionResult:
        watch.timeout = timeout
        return run_workflow(
            event,
            target,
            overrides=overrides,
            settings=settings,
            timeout=timeout,
            watch=watch,
            via=args.via,
            obs_notifications=args.obs_notifications,
            before_start=emulator_demo_step(args.earlier_exports, event, target),
        )

    with function_logs(sys.stderr if args.verbose else None):
        if wants_real_cloud(os.environ):
            watch.real_cloud = True
            target = real_cloud_target(os.environ, on_wait=watch.real_wait)
            result = run(target, args.timeout or float("inf"))
        else:
            with emulated_cloud() as target:
                overrides.setdefault("ExportBucket", EMULATOR_BUCKET)
                result = run(target, args.timeout or EMULATOR_HANG_GUARD_SECONDS)
    output = result_document(result)
    say(sys.stderr, f"execution {result.status}" + (f": {result.error}" if result.error else ""))
    print(json.dumps(output, indent=2))
    fleet_line = fleet_summary_line(output)
    for warning in output.get("warnings", []) if isinstance(output, Mapping) else []:
        say(sys.stderr, one_line(f"warning: {warning}"))  # read before the closing line, not in the JSON
    say(sys.stderr, one_line(fleet_line or closing_sentence(result.status, output, image_id=watch.image_id)))
    if result.status != "SUCCEEDED":
        # An input the start step refused made no cloud call: that is a refusal, as docs/local-runs.md says.
        return EXIT_REFUSED if result.error == "InvalidRequestError" else EXIT_FAILED
    if isinstance(output, Mapping) and output.get("status") == "REFUSED":  # SMN: the execution succeeds
        return EXIT_REFUSED
    # A fleet whose run succeeded may still have failed images: a script must see that.
    return EXIT_FAILED if fleet_line and output.get("failed_count") else EXIT_SUCCEEDED


def _event_image_id(event: Any) -> str | None:
    """The image an event names, for the closing sentence of a run that failed before naming it."""
    if not isinstance(event, Mapping):
        return None
    detail = event.get("detail")
    for source in (event, detail if isinstance(detail, Mapping) else {}):
        for key in ("image_id", "resource_id"):
            if isinstance(source.get(key), str):
                return str(source[key])
    return None
