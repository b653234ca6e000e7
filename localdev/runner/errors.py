"""How a local run stops early: refused before it started, or terminated (SIGTERM)."""

from __future__ import annotations


class RunError(Exception):
    """The run could not start (bad event file, missing variable)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM: the run ends as on Ctrl-C (its document, what goes on in the cloud), with its own status."""
