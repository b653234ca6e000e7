"""Start LocalStack on 127.0.0.1, inside the LocalStack virtualenv (``.tools/localstack``, Python 3.13).

Run as a script by ``localdev/second_engine/engine.py``; it imports nothing of the project but the
standard-library module ``localdev/map_results.py``. Two pieces of LocalStack are replaced, each because
it cannot run here or does not exist there; everything else (the Step Functions engine and its service
integrations, S3, EventBridge, SNS, SQS, IAM, STS and DynamoDB's request handling) is LocalStack's own:

- DynamoDB's storage: LocalStack forwards DynamoDB requests to DynamoDB Local, a Java program it
  downloads on first use, which a machine without internet cannot. The requests are served by the
  moto backend LocalStack bundles instead (``localstack.services.moto.call_moto``), behind LocalStack's
  own DynamoDB provider.
- The Distributed Map's ResultWriter: LocalStack writes the manifest only (its code: "TODO: generate
  result files and upload them to s3"). It writes what the Step Functions documentation describes,
  through ``localdev/map_results.py``, the same writer the moto harness uses; and map run ids follow
  from the execution, as in the moto harness, so that recorded answers naming result files hold.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _dynamodb_served_by_moto() -> None:
    from localstack.services.dynamodb import server
    from localstack.services.moto import call_moto

    original_init = server.DynamodbServer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.proxy = lambda context, service_request=None: call_moto(context)

    server.DynamodbServer.__init__ = init
    server.DynamodbServer.start_dynamodb = lambda self: True
    server.DynamodbServer.stop_dynamodb = lambda self: None


def _result_writer_as_documented() -> None:
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_map.iteration.itemprocessor import (  # noqa: E501
        map_run_record,
    )
    from localstack.services.stepfunctions.asl.component.state.state_execution.state_map.result_writer.resource_eval import (  # noqa: E501
        resource_eval_s3,
    )

    from localdev.map_results import deterministic_map_run_init, write_results

    writer = resource_eval_s3.ResourceEvalS3

    def put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        parameters = env.stack.pop()
        results = env.stack.pop()
        map_run_arn = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
        s3 = writer._get_s3_client(
            resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
        )
        env.stack.append(write_results(s3, parameters, map_run_arn, results))

    writer._handle_put_object = staticmethod(put_object)
    record = map_run_record.MapRunRecord
    record.__init__ = deterministic_map_run_init(record.__init__)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    _dynamodb_served_by_moto()
    _result_writer_as_documented()
    from localstack.runtime import main as runtime_main

    runtime_main.main()


if __name__ == "__main__":
    main()
