"""The AWS side of a local run, whichever engine serves it: the state machines created from their
definition files, the event buses and SNS topics each with a capturing SQS queue, the buckets and the
tables; and what the runs did (executions, their histories, the events and messages published).

Everything goes through ``client(service)``: the moto harness (``localdev/stepfunctions.py``) serves it
in this process, the second engine (``localdev/second_engine``) from a LocalStack process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"  # moto's default account; the second engine is given the same
_PLACEHOLDER_PREFIX = "${"


@dataclass(frozen=True)
class ExecutionResult:
    arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


def substitute(definition: str, substitutions: Mapping[str, str]) -> str:
    """Replace ``${Name}`` as SAM's DefinitionSubstitutions do; an unreplaced placeholder is an error."""
    for name, value in substitutions.items():
        definition = definition.replace(f"${{{name}}}", value)
    if _PLACEHOLDER_PREFIX in definition:
        start = definition.index(_PLACEHOLDER_PREFIX)
        raise ValueError(f"no substitution for {definition[start : definition.index('}', start) + 1]}")
    return definition


class AwsWorld:
    """The resources of one local deployment and the observation of its runs.

    ``functions`` are the Lambda functions the definitions name (``${<name>Arn}``); further
    ``state_machines`` are created first, their ARNs offered as ``${<name>Arn}`` too, followed by
    ``#<case>`` where ``machine_test_cases`` names a mock test case for the executions they start.
    ``tables`` are created as the template declares the idempotency table (partition key ``id``)."""

    def __init__(
        self,
        definition_path: str | Path,
        substitutions: Mapping[str, str] | None = None,
        *,
        functions: Sequence[str] = (),
        event_buses: Sequence[str] = (),
        topics: Sequence[str] = (),
        buckets: Sequence[str] = (),
        tables: Sequence[str] = (),
        execution_timeout_seconds: int | None = None,
        name: str = "ims-export",
        state_machines: Mapping[str, tuple[str | Path, Mapping[str, str]]] | None = None,
        machine_test_cases: Mapping[str, str] | None = None,
    ) -> None:
        self.definition_path = Path(definition_path)
        self.substitutions = dict(substitutions or {})
        self.functions = list(functions)
        self.event_buses = list(event_buses)
        self.topics = list(topics)
        self.buckets = list(buckets)
        self.tables = list(tables)
        self.execution_timeout_seconds = execution_timeout_seconds
        self.name = name
        self.state_machine_arn = self.machine_arn(name)
        self.state_machines = {
            machine: (Path(path), dict(values)) for machine, (path, values) in (state_machines or {}).items()
        }
        self.machine_test_cases = dict(machine_test_cases or {})
        self.sfn: Any = None
        self.created_at: datetime | None = None
        self._collected_events: dict[str, list[Any]] = {bus: [] for bus in self.event_buses}
        self._collected_messages: dict[str, list[Any]] = {topic: [] for topic in self.topics}
        self._bus_queues: dict[str, str] = {}
        self._topic_queues: dict[str, str] = {}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=REGION)

    # --- addresses -----------------------------------------------------------------------------

    @staticmethod
    def function_arn(function: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}"

    @staticmethod
    def machine_arn(name: str) -> str:
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"

    @staticmethod
    def topic_arn(topic: str) -> str:
        return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{topic}"

    # --- the resources -------------------------------------------------------------------------

    def create_resources(self) -> None:
        self.created_at = datetime.now(UTC)
        self.sfn = self.client("stepfunctions")
        role_arn = self.client("iam").create_role(
            RoleName=f"{self.name}-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        self._capture_buses()
        self._capture_topics()
        s3 = self.client("s3")
        for bucket in self.buckets:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        dynamodb = self.client("dynamodb")
        for table in self.tables:
            dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        functions = {f"{function}Arn": self.function_arn(function) for function in self.functions}
        machines = {f"{machine}Arn": self.machine_arn(machine) for machine in self.state_machines}
        with_cases = {
            f"{machine}Arn": f"{self.machine_arn(machine)}#{case}"
            for machine, case in self.machine_test_cases.items()
        }
        for machine, (path, values) in self.state_machines.items():
            self._create_state_machine(machine, path, {**functions, **values}, role_arn)
        self._create_state_machine(
            self.name,
            self.definition_path,
            {**functions, **machines, **self.substitutions, **with_cases},
            role_arn,
        )

    def _create_state_machine(
        self, name: str, path: Path, substitutions: Mapping[str, str], role_arn: str
    ) -> None:
        definition = substitute(path.read_text(encoding="utf-8"), substitutions)
        if self.execution_timeout_seconds is not None:
            document = json.loads(definition)
            document["TimeoutSeconds"] = self.execution_timeout_seconds
            definition = json.dumps(document)
        self.sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn)

    def _capture_buses(self) -> None:
        events = self.client("events")
        for bus in self.event_buses:
            if bus != "default":
                events.create_event_bus(Name=bus)
            queue_url, queue_arn = self._capture_queue(f"capture-bus-{bus}")
            events.put_rule(
                Name=f"capture-{bus}", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]})
            )
            events.put_targets(
                Rule=f"capture-{bus}", EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}]
            )
            self._bus_queues[bus] = queue_url

    def _capture_topics(self) -> None:
        sns = self.client("sns")
        for topic in self.topics:
            topic_arn = sns.create_topic(Name=topic)["TopicArn"]
            queue_url, queue_arn = self._capture_queue(f"capture-topic-{topic}")
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )
            self._topic_queues[topic] = queue_url

    def _capture_queue(self, name: str) -> tuple[str, str]:
        sqs = self.client("sqs")
        queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn: str = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return queue_url, queue_arn

    # --- driving and observing executions ------------------------------------------------------

    def start_execution(
        self,
        execution_input: Any,
        name: str | None = None,
        test_case: str | None = None,
        *,
        machine: str | None = None,
    ) -> str:
        """Start this state machine, or the further one named ``machine`` (with the mock ``test_case``'s
        answers, where given)."""
        machine_arn = self.machine_arn(machine) if machine else self.state_machine_arn
        arn: str = self.sfn.start_execution(
            stateMachineArn=machine_arn + (f"#{test_case}" if test_case else ""),
            name=name or f"local-{uuid.uuid4()}",
            input=json.dumps(execution_input),
        )["executionArn"]
        return arn

    def wait_for(self, arn: str, timeout: float = 600.0) -> ExecutionResult:
        """Poll until the execution ends; ``timeout`` guards against a hang, it is no budget."""
        deadline = time.monotonic() + timeout
        while True:
            description = self.sfn.describe_execution(executionArn=arn)
            if description["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} still running after {timeout} s")
            time.sleep(0.005)
        output = description.get("output")
        return ExecutionResult(
            arn=arn,
            status=description["status"],
            output=json.loads(output) if output else None,
            error=description.get("error"),
            cause=description.get("cause"),
        )

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"executionArn": arn}
        while True:
            page = self.sfn.get_execution_history(**arguments)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            arguments["nextToken"] = page["nextToken"]

    def executions(self, machine: str | None = None) -> list[dict[str, Any]]:
        """The executions of this state machine, or of the further one named ``machine`` (all pages),
        since this deployment was created (an engine may keep those of an earlier one of the same name)."""
        arguments: dict[str, Any] = {"stateMachineArn": self.machine_arn(machine or self.name)}
        listed: list[dict[str, Any]] = []
        while True:
            page = self.sfn.list_executions(**arguments)
            listed.extend(e for e in page["executions"] if self._since_created(e["startDate"]))
            if not page.get("nextToken"):
                return listed
            arguments["nextToken"] = page["nextToken"]

    def _since_created(self, started: datetime) -> bool:
        return self.created_at is None or started >= self.created_at - timedelta(seconds=1)

    def running_executions(self) -> list[str]:
        created = {m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"]}
        return [
            execution["executionArn"]
            for machine in (self.name, *self.state_machines)
            if self.machine_arn(machine) in created
            for execution in self.executions(machine)
            if execution["status"] == "RUNNING"
        ]

    def published_events(self, bus: str) -> list[Any]:
        """Every event put on ``bus`` so far (as EventBridge delivers them to a target)."""
        self._collected_events[bus].extend(self._drain(self._bus_queues[bus]))
        return list(self._collected_events[bus])

    def topic_messages(self, topic: str) -> list[Any]:
        """Every message published to ``topic`` so far (JSON-decoded where possible)."""
        self._collected_messages[topic].extend(self._drain(self._topic_queues[topic]))
        return list(self._collected_messages[topic])

    def _drain(self, queue_url: str) -> Iterator[Any]:
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                try:
                    yield json.loads(message["Body"])
                except ValueError:
                    yield message["Body"]
