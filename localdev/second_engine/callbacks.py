"""Runs started while another waits for its task token, replayed at that moment on both engines.

An OBS notification's execution (``WakeExports``) is recorded while the export waits in its callback
task (``WaitForObject``, ``aws-sdk:dynamodb:putItem.waitForTaskToken``). The replay starts it once the
waiting run's token is in the table: stored there by the engine's own integration, read and sent back
(``aws-sdk:sfn:sendTaskSuccess``) by the engine's own integrations, as on AWS.

LocalStack waits for the token for real, up to the task's timeout. The moto harness ends a callback
wait as soon as its ``on_callback`` returns (a timeout, unless the token was sent by then):
``CallbackHold``, as that ``on_callback``, keeps each wait open until the runs started during it ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from localdev.aws_world import AwsWorld

TASK_TOKEN_PATH = "$$.Task.Token"  # noqa: S105 - a context object path, no secret
POLL_SECONDS = 0.05
DEADLINE_SECONDS = 600.0  # guards against a hang, no budget


class CallbackHold:
    """The moto harness's ``on_callback`` in a replay: a callback wait lasts while runs are expected to
    start during it (``expect``), until each has ended (``ended``) or the replay gave up (``release``)."""

    def __init__(self, deadline_seconds: float = DEADLINE_SECONDS) -> None:
        self._expected = 0
        self._deadline_seconds = deadline_seconds
        self._changed = threading.Condition()

    def expect(self, count: int) -> None:
        with self._changed:
            self._expected += count

    def ended(self) -> None:
        with self._changed:
            self._expected = max(self._expected - 1, 0)
            self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._expected = 0
            self._changed.notify_all()

    def __call__(self, _wait_seconds: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._expected == 0, timeout=self._deadline_seconds)


def token_attributes(definitions: Iterable[Mapping[str, Any]]) -> set[str]:
    """The item attributes the definitions' DynamoDB callback tasks store their task token in."""
    found: set[str] = set()
    for definition in definitions:
        for state in definition.get("States", {}).values():
            if not str(state.get("Resource", "")).endswith(".waitForTaskToken"):
                continue
            for attribute, value in (state.get("Parameters", {}).get("Item") or {}).items():
                if isinstance(value, dict) and TASK_TOKEN_PATH in value.values():
                    found.add(attribute)
    return found


class StoredTokens:
    """The task tokens callback tasks stored in the deployment's tables."""

    def __init__(self, world: AwsWorld, tables: Iterable[str], attributes: Iterable[str]) -> None:
        self.dynamodb = world.client("dynamodb")
        self.tables = list(tables)
        self.attributes = set(attributes)
        self.seen: set[str] = set()

    def stored(self) -> set[str]:
        tokens: set[str] = set()
        for table in self.tables:
            for item in self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
                tokens |= {item[name]["S"] for name in self.attributes & set(item) if "S" in item[name]}
        return tokens

    def wait_for_new(self, world: AwsWorld, waiting: str, deadline_seconds: float = DEADLINE_SECONDS) -> str:
        """The token of the callback wait the run ``waiting`` is in now, polled until it waits in one: its
        put done and its wait not over. A wait that times out at once (the replay gives the waits that
        timed out in the recording no length) is never it, however fast a poll finds its token."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            new = self.stored() - self.seen if waits_for_token(world.history(waiting)) else set()
            if new:
                token = sorted(new)[0]
                self.seen.add(token)
                return token
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no callback task stored a token in {', '.join(self.tables)} within "
                    f"{deadline_seconds:.0f} s: the run that was to wait did not reach its wait"
                )
            time.sleep(POLL_SECONDS)


def waits_for_token(events: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the last callback task of a history waits now: submitted (its token stored), with a
    timeout (one of 0 s ends at once), and neither timed out, failed nor succeeded since."""
    waiting = False
    timeout = 0
    for event in events:
        scheduled = event.get("taskScheduledEventDetails")
        if scheduled is not None:
            callback = str(scheduled.get("resource", "")).endswith(".waitForTaskToken")
            timeout = int(scheduled.get("timeoutInSeconds") or 0) if callback else 0
            waiting = False
        elif event.get("type") == "TaskSubmitted":
            waiting = timeout > 0
        elif event.get("type") in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
            waiting = False
    return waiting
