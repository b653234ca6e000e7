"""The second engine for the parity tests: LocalStack, one process per test worker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.second_engine.engine import SecondEngine, installed

# Set by `make test` where Python 3.13 is there to install LocalStack: then a missing engine is a failure.
REQUIRED = os.environ.get("IMS_EXPORT_SECOND_ENGINE") == "required"


@pytest.fixture(scope="session")
def second_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondEngine]:
    if not installed():
        message = "the second engine (LocalStack in .tools/localstack) is not installed: `make second-engine`"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    workdir: Path = tmp_path_factory.mktemp("localstack")
    with SecondEngine(workdir) as engine:
        yield engine
