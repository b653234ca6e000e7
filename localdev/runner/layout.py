"""Where the project's files are, for the local runner: the template it deploys, the default event."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DEFAULT_EVENT = ROOT / "events" / "manual.json"
# The executions the SMN endpoint starts for an OBS notification: in a fleet run, none of its exports.
NOTIFICATION_EXECUTION_PREFIX = "obs-notification-"
