"""A test that leaks on purpose; only run by test_secrets_collector in a separate pytest process."""

from __future__ import annotations

import logging
import os

import pytest

from tests.faults.secrets_collector import SecretsCollector

PLANTED = os.environ.get("IMS_EXPORT_PLANTED_SECRET", "")

pytestmark = pytest.mark.skipif(not PLANTED, reason="run by tests/faults/test_secrets_collector.py only")


def test_logs_a_registered_secret(secrets_collector: SecretsCollector) -> None:
    secrets_collector.register(PLANTED, "planted secret")
    logging.getLogger("ims_export.probe").debug("calling IAM with password=%s", PLANTED)
