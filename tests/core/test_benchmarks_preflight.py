"""The pre-flight benchmark runs on a small input, and its request counts follow from the design."""

from __future__ import annotations

import pytest

from benchmarks import preflight


def test_the_cache_saves_the_bucket_questions_and_off_asks_nothing() -> None:
    measured = preflight.measure(rounds=2)
    requests = {name: count for name, (count, _) in measured.items()}
    # Cold: temporary credentials, the bucket's HEAD, the object's HEAD (the storage class and region
    # come with the bucket's HEAD headers); cached: the bucket's answers are kept, its HEAD is not asked.
    assert requests == {"off": 0, "cold": 3, "cached": 2}
    assert all(len(seconds) == 2 for _, seconds in measured.values())


def test_main_prints_every_way(capsys: pytest.CaptureFixture[str]) -> None:
    assert preflight.main(rounds=1) == 0
    printed = capsys.readouterr().out
    assert [way for way in ("off", "cold", "cached") if f"  {way} " not in printed] == []
