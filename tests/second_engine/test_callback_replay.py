"""The pieces that replay a callback wait on both engines, without an engine: which answers choose a
callback task's wait (and so its length in the replay), where a token is stored, and the moto harness's
wait held open until the notification started during it has run."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from localdev.second_engine.answers import (
    answers_before_callbacks,
    callback_tasks,
    callback_timeout_fields,
    mock_config,
    wait_fields,
)
from localdev.second_engine.callbacks import CallbackHold, token_attributes, waits_for_token

EXPORT_DEFINITION = json.loads(
    (Path(__file__).resolve().parents[2] / "statemachine" / "export.asl.json").read_text(encoding="utf-8")
)
GUARD_SECONDS = 60.0  # a hang fails the test; nothing waits this long when it passes


def _entered(event_id: int, name: str, kind: str = "TaskStateEntered") -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": event_id - 1,
        "type": kind,
        "stateEnteredEventDetails": {"name": name},
    }


def _answered(event_id: int) -> dict[str, Any]:
    output = json.dumps({"StatusCode": 200, "Payload": {"job": {"next_wait_seconds": 120}}})
    return {
        "id": event_id,
        "previousEventId": event_id - 1,
        "type": "TaskSucceeded",
        "taskSucceededEventDetails": {"resourceType": "lambda", "output": output},
    }


def test_the_export_state_machines_callback_task_is_found_with_its_token_attribute() -> None:
    assert callback_tasks([EXPORT_DEFINITION]) == {"WaitForObject"}
    assert token_attributes([EXPORT_DEFINITION]) == {"task_token"}


def test_only_the_answers_a_callback_wait_followed_are_marked() -> None:
    history = [
        _entered(1, "StartExport"),
        _answered(2),  # StartExport 0: then WaitForObject
        _entered(3, "IsImageReady", "ChoiceStateEntered"),
        _entered(4, "WaitForObject"),
        _entered(5, "CheckExport"),
        _answered(6),  # CheckExport 0: then a plain wait
        _entered(7, "WaitBeforePoll", "WaitStateEntered"),
        _entered(8, "CheckExport"),
        _answered(9),  # CheckExport 1: then WaitForObject again
        _entered(10, "WaitForObject"),
        _entered(11, "CheckExport"),
        _answered(12),  # CheckExport 2: the last, no wait follows
    ]

    marked = answers_before_callbacks(history, {"WaitForObject"})

    assert marked == {"StartExport": {0}, "CheckExport": {1}}


def test_a_callback_wait_lasts_the_scenarios_length_and_every_other_wait_none() -> None:
    wake = {"table": "t", "settle_seconds": 15}
    answer = {"Return": {"Payload": {"job": {"next_wait_seconds": 120, "wake": wake}}}}
    cases = {"run0": {"CheckExport": [answer, answer]}}

    config = mock_config(
        "M",
        cases,
        zero={"next_wait_seconds", "settle_seconds"},
        callback_fields={"next_wait_seconds"},
        callback_seconds=300,
        before_callbacks={"run0": {"CheckExport": {1}}},
    )

    answers = config["MockedResponses"]["M.run0.CheckExport"]
    jobs = [answers[n]["Return"]["Payload"]["job"] for n in ("0", "1")]
    assert [job["next_wait_seconds"] for job in jobs] == [0, 300]
    # The settle after a woken wait is a Wait state: it lasts nothing, whatever precedes it.
    assert [job["wake"]["settle_seconds"] for job in jobs] == [0, 0]


def test_only_the_callback_tasks_timeout_fields_get_a_length() -> None:
    assert callback_timeout_fields([EXPORT_DEFINITION]) == {"next_wait_seconds"}
    assert "settle_seconds" in wait_fields([EXPORT_DEFINITION])


def test_the_hold_keeps_a_callback_wait_open_until_the_notification_has_run() -> None:
    hold = CallbackHold(deadline_seconds=GUARD_SECONDS)
    hold.expect(1)
    waiting = threading.Thread(target=hold, args=(300.0,))
    waiting.start()

    assert waiting.is_alive()  # held: the moto harness would otherwise time the wait out now
    hold.ended()
    waiting.join(timeout=GUARD_SECONDS)
    assert not waiting.is_alive()


def test_without_a_notification_expected_a_callback_wait_is_not_held() -> None:
    hold = CallbackHold(deadline_seconds=GUARD_SECONDS)
    waiting = threading.Thread(target=hold, args=(2.0,))
    waiting.start()
    waiting.join(timeout=GUARD_SECONDS)

    assert not waiting.is_alive()


def scheduled(timeout: int, resource: str = "putItem.waitForTaskToken") -> dict[str, object]:
    details = {"resource": resource, "timeoutInSeconds": timeout}
    return {"type": "TaskScheduled", "taskScheduledEventDetails": details}


def test_a_run_waits_for_its_token_only_in_a_callback_wait_that_can_last() -> None:
    submitted, timed_out = {"type": "TaskSubmitted"}, {"type": "TaskTimedOut"}

    assert waits_for_token([scheduled(300), submitted])
    assert not waits_for_token([scheduled(300)])  # its token is not stored yet
    assert not waits_for_token([scheduled(0), submitted])  # ends at once
    assert not waits_for_token([scheduled(300), submitted, timed_out])
    assert not waits_for_token([scheduled(300, resource="invoke"), submitted])  # no callback task
