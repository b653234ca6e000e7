"""Shared code of ims-export: models, cloud clients and the IAM token cache.

Deployed as the Lambda layer ``layers/common`` (importable as ``ims_export`` from ``/opt/python``).
Nothing in this package imports boto3 or botocore: AWS is reached through Powertools utilities.
"""
