"""The objects a Distributed Map's ResultWriter puts into S3, as the Step Functions documentation describes
them ("ResultWriter (Map)": a ``manifest.json`` that lists the result files, ``SUCCEEDED_0.json`` with one
record per child execution).

Neither local engine writes them (moto and LocalStack write the manifest only), so both are given this
writer: the moto harness (``localdev/stepfunctions.py``) and the second engine's launcher
(``localdev/second_engine/launch.py``, run by another Python). Standard library only, for that reason.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

STATUSES = ("FAILED", "PENDING", "SUCCEEDED")


def result_folder(prefix: str, map_run_arn: str) -> str:
    """``<Prefix>/<map run id>/``, where AWS writes a map run's files."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"{prefix}{map_run_arn.rsplit(':', maxsplit=1)[-1]}/"


def result_objects(
    bucket: str, prefix: str, map_run_arn: str, results: list[Any] | None
) -> list[tuple[str, bytes]]:
    """The (key, body) pairs to put, the manifest last. The engines keep only the children's outputs, so
    a record carries ``ExecutionArn``, ``Output`` and ``Status`` (AWS adds ``Input`` and the times)."""
    folder = result_folder(prefix, map_run_arn)
    records = [
        {"ExecutionArn": f"{map_run_arn}:{index}", "Output": json.dumps(result), "Status": "SUCCEEDED"}
        for index, result in enumerate(results or [])
    ]
    objects: list[tuple[str, bytes]] = []
    files: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
    if records:
        body = json.dumps(records).encode()
        objects.append((f"{folder}SUCCEEDED_0.json", body))
        files["SUCCEEDED"].append({"Key": f"{folder}SUCCEEDED_0.json", "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
    objects.append((f"{folder}manifest.json", json.dumps(manifest).encode()))
    return objects


def write_results(
    s3: Any, parameters: dict[str, Any], map_run_arn: str, results: list[Any] | None
) -> dict[str, Any]:
    """Put a map run's result objects with ``s3`` (a boto3 client) and answer as the ResultWriter does."""
    bucket = parameters["Bucket"]
    objects = result_objects(bucket, parameters.get("Prefix", ""), map_run_arn, results)
    for key, body in objects:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    manifest_key = objects[-1][0]
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


def deterministic_map_run_init(original_init: Any) -> Any:
    """A replacement for an engine's ``MapRunRecord.__init__`` (moto's and LocalStack's have the same
    shape): a map run's id follows from its execution and its number there, not from chance, so that a
    recorded answer naming a result file (``results/<map run id>/SUCCEEDED_0.json``) names it in a replay."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def init(record: Any, *args: Any, **kwargs: Any) -> None:
        original_init(record, *args, **kwargs)
        with lock:
            number = counts[record.execution_arn] = counts.get(record.execution_arn, 0) + 1
        label = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record.execution_arn}#map-run-{number}"))
        run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record.execution_arn}#map-run-{number}-id"))
        record.map_state_machine_arn = f"{record.map_state_machine_arn.rsplit('/', 1)[0]}/{label}"
        record.map_run_arn = f"{record.map_run_arn.rsplit('/', 1)[0]}/{label}:{run_id}"

    return init
