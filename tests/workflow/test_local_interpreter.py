"""The moto patches of the local interpreter fail loudly when moto no longer has what they replace."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from localdev.stepfunctions import LocalWorkflow


def test_patching_a_missing_attribute_fails_instead_of_adding_it() -> None:
    workflow = LocalWorkflow("statemachine/export.asl.json")
    renamed_internal = SimpleNamespace(new_name=lambda: None)

    with pytest.raises(RuntimeError, match=r"moto changed: .*'_wait_interval'"):
        workflow._replace(renamed_internal, "_wait_interval", lambda: None)

    assert not hasattr(renamed_internal, "_wait_interval")
    assert workflow._restore == []


def test_a_patch_is_undone_on_restore() -> None:
    workflow = LocalWorkflow("statemachine/export.asl.json")
    owner = SimpleNamespace(sleep="original")

    workflow._replace(owner, "sleep", "patched")
    assert owner.sleep == "patched"
    for restore in workflow._restore:
        restore()

    assert owner.sleep == "original"


def test_handlers_run_one_invocation_at_a_time_as_in_one_lambda_environment() -> None:
    # Map iterations call handlers from several threads; the handlers share module state (Powertools'
    # metric set), which Lambda never shares between concurrent invocations.
    inside: list[int] = []
    most = [0]
    entered = threading.Barrier(2, timeout=600)  # hang guard only

    def handler(event: Any, context: Any) -> dict[str, Any]:
        inside.append(1)
        most[0] = max(most[0], len(inside))
        time.sleep(0.05)  # long enough for the other thread to enter, were it allowed to
        inside.pop()
        return {}

    workflow = LocalWorkflow("statemachine/export.asl.json", handlers={"F": handler})

    def call() -> None:
        entered.wait()
        workflow.invoke("F", {})

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    assert most[0] == 1
    assert len(workflow.invocations) == 2
