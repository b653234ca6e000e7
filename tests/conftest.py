"""Suite-wide test settings: never reach AWS or the internet, whatever the developer's shell holds."""

from __future__ import annotations

import os

# Set before any test module imports boto3 or Powertools.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ims-export-tests",
        "POWERTOOLS_SERVICE_NAME": "ims-export",
    }
)
for proxy_variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(proxy_variable, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
