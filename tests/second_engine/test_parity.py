"""Both state machines on a second engine: every scenario recorded from a run of the project's own,
replayed on the moto harness and on LocalStack's Step Functions engine with the same Lambda answers, and
compared state by state. A difference fails unless docs/engines.md lists it, with its reason and source."""

from __future__ import annotations

from typing import Any

import pytest

from localdev.second_engine import parity
from localdev.second_engine.callbacks import CallbackHold
from localdev.second_engine.engine import LocalStackWorld, SecondEngine
from localdev.second_engine.known_differences import KnownDifferences
from localdev.second_engine.recording import Recording, Scenario, record
from localdev.stepfunctions import LocalWorkflow
from tests.second_engine.scenarios import EXPORT_SCENARIOS, FLEET_SCENARIOS, WAKE_SCENARIOS

pytestmark = pytest.mark.slow
SCENARIOS = [*EXPORT_SCENARIOS, *WAKE_SCENARIOS, *FLEET_SCENARIOS]


def _unanswered(event: Any, context: Any) -> Any:
    raise RuntimeError("no recorded answer: this Lambda task is not mocked")


def on_moto(recording: Recording, config: dict[str, Any]) -> dict[str, Any]:
    options = parity.world_options(recording)
    handlers = {function: _unanswered for function in recording.functions}
    hold = CallbackHold()  # a callback wait lasts until the notification started during it has run
    with LocalWorkflow(handlers=handlers, mock_config=config, on_callback=hold, **options) as world:
        parity.replay(world, recording, hold)
        return parity.observe(world, recording)


def on_localstack(engine: SecondEngine, recording: Recording, config: dict[str, Any]) -> dict[str, Any]:
    engine.add_mock_config(config)
    with LocalStackWorld(engine, functions=recording.functions, **parity.world_options(recording)) as world:
        parity.replay(world, recording)
        return parity.observe(world, recording)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_both_engines_take_the_same_course(second_engine: SecondEngine, scenario: Scenario) -> None:
    recording = record(scenario)
    config = parity.mock_configuration(recording)

    moto = on_moto(recording, config)
    localstack = on_localstack(second_engine, recording, config)

    # The replay itself is faithful: the harness's runs take the course they took when recorded (unless
    # the scenario changed their answers), through the same states: a notification's execution wakes
    # the export as it did, a wait times out as it did.
    inner = parity.iteration_states(recording.definitions())
    for run in recording.harness_runs() if scenario.edit_answers is None else []:
        replayed = moto[f"{recording.main}/{run.name}"]
        assert (replayed["status"], replayed["error"]) == (run.status, run.error), scenario.name
        assert replayed["path"] == [state for state in run.path if state not in inner], scenario.name
    unknown = KnownDifferences.load().unexplained(parity.differences(scenario.name, moto, localstack))
    assert not unknown, "engine differences not in docs/engines.md:\n" + "\n".join(
        d.describe() for d in unknown
    )
