"""``make wire-notifications``: plan, make or undo the cloud side of completion signalled by OBS
notifications.

    python -m localdev.wiring --smn-endpoint URL [--topic NAME] [--apply] [--undo[=all]]

Without ``--apply`` it reads the cloud and prints what it would change (``+`` to make, ``-`` to take out)
and what is already right (``=``), and changes nothing. ``--apply`` (``APPLY=1``) makes the changes;
``--undo`` (``UNDO=1``) plans taking out the bucket's notification, ``--undo=all`` (``UNDO=all``) the
topic's subscription, policy statement and the topic too (they may serve other buckets), and with
``--apply`` does it. The bucket
and object pattern are ``EXPORT_BUCKET`` and ``EXPORT_OBJECT_PATTERN`` (the settings' default pattern if
unset); the cloud is ``OS_CLOUD``/clouds.yaml or the ``OS_*`` variables. Exit 0 when the plan was shown
or carried out, 2 for an input refused before any call, 1 for a call that failed. No password, token or
key is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from ims_export.cloud.redaction import redact_message
from ims_export.errors import ImsExportError
from ims_export.settings import ENV_NAMES, Settings
from localdev.cloud_config import CloudConfigError
from localdev.switches import switch_value
from localdev.wiring.bucket_notification import ObsNotificationError
from localdev.wiring.connection import connect, read_target
from localdev.wiring.inputs import DEFAULT_TOPIC_NAME, WiringInputError, check_inputs
from localdev.wiring.plan import Plan, Wiring
from localdev.wiring.smn_client import SmnApiError
from localdev.wiring.topic_policy import TopicPolicyError

PROGRAM = "make wire-notifications"
DEFAULT_PATTERN = Settings.model_fields["export_object_pattern"].default
CLOUD_ERRORS = (ImsExportError, SmnApiError, ObsNotificationError, TopicPolicyError, RuntimeError)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    parse.add_argument("--smn-endpoint", default="", help="the stack's SmnEndpoint output (SMN_ENDPOINT=)")
    parse.add_argument("--topic", default=DEFAULT_TOPIC_NAME, help="the SMN topic's name (TOPIC=)")
    # APPLY= and UNDO= arrive as --apply=<value> and --undo=<value>; their values are read by ``switches``.
    parse.add_argument("--apply", nargs="?", const="1", default="", help="make the changes (APPLY=1)")
    parse.add_argument(
        "--undo",
        nargs="?",
        const="1",
        default="",
        help="plan taking out the bucket's notification (UNDO=1), or the topic's pieces too (UNDO=all)",
    )
    return parse


def switches(apply: str, undo: str) -> tuple[bool, str | None]:
    """``APPLY`` as on or off, and ``UNDO`` as None (wire), ``"bucket"`` or ``"all"``; any other value
    is refused, naming the values each takes."""
    applying = switch_value(apply)
    if applying is None:
        raise WiringInputError(f"APPLY={apply!r}: give APPLY=1 to make the changes (or leave it out to plan)")
    if undo.strip().lower() == "all":
        return applying, "all"
    undoing = switch_value(undo)
    if undoing is None:
        raise WiringInputError(
            f"UNDO={undo!r}: give UNDO=1 to take out the bucket's notification, UNDO=all to take out the "
            "topic's subscription, policy statement and the topic too"
        )
    return applying, "bucket" if undoing else None


def _show(plan: Plan, sign: str, out: TextIO) -> None:
    for text in plan.unchanged:
        print(f"  = {text}", file=out)
    for step in plan.changes:
        print(f"  {sign} {step.text}", file=out)


def _notes(plan: Plan, out: TextIO) -> None:
    for note in plan.notes:
        print(f"note: {note}", file=out)


def run(argv: Sequence[str], environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    args = parser().parse_args(argv)
    pattern_variable = ENV_NAMES["export_object_pattern"]
    try:
        inputs = check_inputs(
            args.smn_endpoint,
            (environ.get(ENV_NAMES["export_bucket"]) or "").strip(),
            environ.get(pattern_variable) or DEFAULT_PATTERN,
            args.topic,
        )
        target = read_target(environ)
        apply, undo_mode = switches(args.apply, args.undo)
    except (WiringInputError, CloudConfigError) as error:
        print(f"{PROGRAM}: refused: {error}", file=err)
        return 2
    undo = undo_mode is not None
    secrets: tuple[str, ...] = (target.settings.password,)
    applying = False
    try:
        clients = connect(target, inputs.bucket)
        secrets = clients.secrets
        topic_urn = f"urn:smn:{target.region}:{clients.project_id}:{inputs.topic_name}"
        wiring = Wiring(inputs, clients.smn, clients.obs, topic_urn)
        plan = wiring.undo(shared=undo_mode == "all") if undo else wiring.wire()
        what = "Undoing" if undo else "Wiring"
        print(
            f"{what} OBS notifications of bucket {inputs.bucket} (objects under {inputs.prefix!r}) to "
            f"{inputs.smn_endpoint} through SMN topic {wiring.topic_urn}, {target.describe()}:",
            file=out,
        )
        sign = "-" if undo else "+"
        _show(plan, sign, out)
        if not plan.changes:
            print("nothing to change", file=out)
        elif not apply:
            again = f"UNDO={'all' if undo_mode == 'all' else '1'} APPLY=1" if undo else "APPLY=1"
            print(
                f"{len(plan.changes)} change(s) planned, nothing changed: give {again} to make them", file=out
            )
        else:
            applying = True
            for done, step in enumerate(plan.changes):
                try:
                    step.run()
                except CLOUD_ERRORS:
                    print(
                        f"{PROGRAM}: {done} of {len(plan.changes)} change(s) made before this one failed",
                        file=err,
                    )
                    raise
                print(f"  done: {step.text}", file=out)
            print(f"{len(plan.changes)} change(s) made", file=out)
        if not undo:
            _notes(plan, out)
    except CLOUD_ERRORS as error:
        text = error.message if isinstance(error, ImsExportError) else str(error)
        unchanged = "" if applying else " (nothing was changed: check the variables it names)"
        print(f"{PROGRAM}: failed: {redact_message(text, secrets, max_length=600)}{unchanged}", file=err)
        return 1
    return 0


def main() -> int:
    return run(sys.argv[1:], os.environ, sys.stdout, sys.stderr)
