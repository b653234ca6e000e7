"""The outcomes the README and docs/ show are what a local run prints: the same fields and values, save
the ones a run makes anew (job ids, times, ports, execution names)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.localrun.conftest import ROOT, LocalRun

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Which sample a documented outcome comes from, by its status and image.
SAMPLES = {
    ("SUCCEEDED", "2542e7a1-52a3-4693-bd2a-4efae19ef09f"): "events/manual.json",
    ("FAILED", "00000000-0000-4000-8000-000000000000"): "events/manual/unknown-image.json",
    ("PARTIAL", None): "events/fleet/schedule.json",
}
# New in every run, or a duration the emulator's clock gives as the machine's load allows.
MADE_BY_THE_RUN = {
    "job_id",
    "export_started_at",
    "export_finished_at",
    "finished_at",
    "started_at",
    "execution",
    "execution_arn",
    "url",
    "last_modified",
    "etag",
    "map_runs",
    "durations",
}
ELIDED = "..."  # a documented value shortened on purpose


def _documented_outcomes() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for document in DOCUMENTS:
        for block in re.findall(r"```json\n(.*?)```", document.read_text(encoding="utf-8"), re.DOTALL):
            if '"status"' in block:
                found.append((f"{document.relative_to(ROOT)}:{len(found)}", json.loads(block)))
    return found


OUTCOMES = _documented_outcomes()


def _same_apart_from_the_run(text: str) -> str:
    text = re.sub(r"\b[0-9a-f]{32}\b", "<job id>", text)
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", text)


def _differences(documented: Any, printed: Any, where: str = "") -> list[str]:
    if isinstance(documented, dict):
        if not isinstance(printed, dict):
            return [f"{where}: not an object"]
        missing = [f"{where}.{key}: not printed" for key in documented if key not in printed]
        return missing + [
            difference
            for key, value in documented.items()
            if key in printed and key not in MADE_BY_THE_RUN
            for difference in _differences(value, printed[key], f"{where}.{key}")
        ]
    if isinstance(documented, list):
        return _list_differences(documented, printed, where)
    if isinstance(documented, str) and ELIDED in documented:
        return []
    if isinstance(documented, str) and isinstance(printed, str):
        documented, printed = _same_apart_from_the_run(documented), _same_apart_from_the_run(printed)
    return [] if documented == printed else [f"{where}: documented {documented!r}, printed {printed!r}"]


def _list_differences(documented: list[Any], printed: Any, where: str) -> list[str]:
    if not isinstance(printed, list):
        return [f"{where}: not a list"]
    if ELIDED in json.dumps(documented):
        return []
    if len(documented) != len(printed):
        return [f"{where}: {len(documented)} documented, {len(printed)} printed"]
    return [d for index, item in enumerate(documented) for d in _differences(item, printed[index], where)]


def test_every_documented_outcome_has_a_sample_to_check_it_by() -> None:
    assert OUTCOMES
    assert [name for name, outcome in OUTCOMES if _sample(outcome) is None] == []


def _sample(outcome: dict[str, Any]) -> str | None:
    return SAMPLES.get((outcome["status"], outcome.get("image_id")))


@pytest.mark.slow
@pytest.mark.parametrize("outcome", [outcome for _, outcome in OUTCOMES], ids=[name for name, _ in OUTCOMES])
def test_the_documented_outcome_is_what_its_sample_prints(
    outcome: dict[str, Any], local_run: Callable[..., LocalRun]
) -> None:
    sample = _sample(outcome)
    assert sample is not None

    printed = local_run(ROOT / sample).output

    assert _differences(outcome, printed) == []
