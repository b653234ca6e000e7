"""The fleet benchmark: event counts walked from the definition, worst-case payloads within the limits."""

from __future__ import annotations

import pytest

from benchmarks import _fleet_sizes
from benchmarks import fleet as fleet_bench


def test_state_events_by_kind() -> None:
    assert fleet_bench.state_events({"Type": "Task", "Resource": "${FnArn}"}) == 5
    sync = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2"}
    assert fleet_bench.state_events(sync) == 6
    assert fleet_bench.state_events({"Type": "Choice"}) == 2
    assert fleet_bench.state_events({"Type": "Map"}) == fleet_bench.INLINE_MAP_EVENTS
    distributed = {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}}}
    assert fleet_bench.state_events(distributed) == fleet_bench.DISTRIBUTED_MAP_EVENTS


def test_fleet_budget_grows_per_page_and_piece_not_per_image() -> None:
    budget = fleet_bench.event_budget(fleet_bench.load_definition())
    assert budget.per_piece == 12  # getObject 5, fold 5, choice 2
    assert budget.total(pages=2, pieces=0) - budget.total(pages=1, pieces=0) == (
        budget.per_selection_page + budget.per_export_page + budget.per_further_selection_page
    )
    assert fleet_bench.child_workflow_events() == 17
    without_topic = fleet_bench.event_budget(fleet_bench.load_definition(), topic=False)
    assert budget.fixed - without_topic.fixed == 5  # the SNS publish task


def test_10000_images_fit_and_the_report_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    sizes = _fleet_sizes.worst_sizes(10_000)
    assert (
        max(sizes.selection_state, sizes.reading_state, sizes.summary_state) < fleet_bench.MAX_PAYLOAD_BYTES
    )
    assert fleet_bench.main() == 0
    printed = capsys.readouterr().out
    assert "Fleet of 10,000 images" in printed
    assert "within Step Functions limits" in printed


def test_paged_fleet_holds_the_cap_and_beats_sequential() -> None:
    durations = fleet_bench.simulate(3000, cap=10)
    assert durations.ideal_seconds <= durations.fleet_seconds < durations.sequential_seconds
