"""This process made to look like the functions' runtime: the layer on the path, AWS only as moto, and
the functions' logs shown or kept out of the runner's own lines.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from typing import TextIO

from localdev.aws_world import REGION
from localdev.runner.layout import ROOT


def use_layer_on_path() -> None:
    """Make ``ims_export`` importable as the Lambda layer makes it (``/opt/python`` there)."""
    layer = str(ROOT / "layers" / "common")
    if layer not in sys.path:
        sys.path.insert(0, layer)


def isolate_from_aws() -> None:
    """Everything AWS is moto in a local run: never let a developer's real AWS credentials be used."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


@contextmanager
def deployment_environment(values: Mapping[str, str]) -> Iterator[None]:
    """The functions' environment variables while a run lasts, the process's own again after it."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def quiet_libraries() -> None:
    """moto's interpreter logs every caught error with a dump of its internals; the progress lines say it."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)


# The logger the layer's modules log under (logging.getLogger(__name__)).
LAYER_LOGGER = "ims_export"


@contextmanager
def function_logs(stream: TextIO | None) -> Iterator[None]:
    """Where the functions' log lines go while the workflow runs: to ``stream`` (--verbose, with the
    progress), or nowhere, so that a plain run shows the runner's own sentences only.

    Both kinds of log line are the functions' CloudWatch output in Lambda: what Powertools prints to
    stdout (JSON records, and EMF blobs even with metrics disabled), caught here by redirecting stdout
    while the handlers are imported, since Powertools binds the stream then; and the layer modules'
    standard logging, which would otherwise reach stderr through logging's last-resort handler. The
    final JSON is printed after this block: stdout then carries it alone."""
    if stream is not None:
        with redirect_stdout(stream):
            yield
        return
    layer_logger = logging.getLogger(LAYER_LOGGER)
    discard = logging.NullHandler()
    propagates = layer_logger.propagate
    layer_logger.addHandler(discard)
    layer_logger.propagate = False
    try:
        with redirect_stdout(_Discard()):  # never closed: a handler keeps it as long as its module
            yield
    finally:
        layer_logger.removeHandler(discard)
        layer_logger.propagate = propagates
