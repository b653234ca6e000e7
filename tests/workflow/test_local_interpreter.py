"""The moto patches of the local interpreter fail loudly when moto no longer has what they replace."""

from __future__ import annotations

from types import SimpleNamespace

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
