"""Settings the functions would refuse at their first call refuse the local run before it starts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.localrun.conftest import LocalRun
from tests.workflow.conftest import ROOT

pytestmark = pytest.mark.slow

MANUAL_EVENT = ROOT / "events" / "manual.json"


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"IMS_EXPORT_SETTINGS": '{"NOPE": 1}'}, "cannot set NOPE"),
        ({"IMS_EXPORT_SETTINGS": '{"EXPORT_BUCKET": "x"}'}, "cannot set EXPORT_BUCKET"),
        ({"POLL_MIN_SECONDS": "abc"}, "POLL_MIN_SECONDS"),
        ({"RETENTION_COUNT": "-1"}, "RETENTION_COUNT"),
        ({"CLOUD": "foo"}, "CLOUD"),
    ],
)
def test_a_bad_setting_is_a_refusal_naming_it_before_any_call(
    local_run: Callable[..., LocalRun], environment: dict[str, str], named: str
) -> None:
    result = local_run(MANUAL_EVENT, **environment)

    assert result.exit_code == 2, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("refused: ") and named in last
    assert "execution arn:" not in result.stderr
    assert result.control is None or result.control.tokens_issued == 0
