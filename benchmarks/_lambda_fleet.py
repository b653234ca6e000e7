"""Lambda execution environments in simulated time: when an invocation is a cold start, and in which one.

An environment serves one invocation at a time. An invocation reuses an idle environment of its function
if one is still alive, else Lambda creates one (a cold start): so concurrency rises by cold starts.
Lambda recycles an environment after it has been idle for a while, and in any case after some hours.
Neither figure is documented; the ranges below follow what is commonly observed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

IDLE_SECONDS_RANGE = (5 * 60.0, 60 * 60.0)  # log-uniform per environment
LIFETIME_SECONDS_RANGE = (2 * 3600.0, 6 * 3600.0)  # uniform per environment


@dataclass
class Environment:
    environment_id: int
    function: str
    born_at: float
    dies_after_idle_seconds: float
    dies_at: float
    busy_until: float = 0.0

    def available_at(self, at: float) -> bool:
        idle_since = max(self.busy_until, self.born_at)
        return self.busy_until <= at < self.dies_at and at - idle_since < self.dies_after_idle_seconds


@dataclass(frozen=True)
class Placement:
    environment_id: int
    cold: bool


class LambdaFleet:
    """Places invocations, given in time order, on environments of their function."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._environments: dict[str, list[Environment]] = {}
        self._next_id = 0

    def invoke(self, function: str, at: float, duration_seconds: float) -> Placement:
        pool = self._environments.setdefault(function, [])
        # Time only moves forward: an environment neither busy nor available now is gone for good.
        pool[:] = [env for env in pool if env.busy_until > at or env.available_at(at)]
        idle = [env for env in pool if env.available_at(at)]
        if idle:
            # The most recently used one: the others may then age out, as Lambda lets them.
            environment = max(idle, key=lambda env: env.busy_until)
            cold = False
        else:
            environment = self._new_environment(function, at)
            pool.append(environment)
            cold = True
        environment.busy_until = at + duration_seconds
        return Placement(environment.environment_id, cold)

    def _new_environment(self, function: str, at: float) -> Environment:
        low, high = IDLE_SECONDS_RANGE
        self._next_id += 1
        return Environment(
            environment_id=self._next_id,
            function=function,
            born_at=at,
            dies_after_idle_seconds=math.exp(self._rng.uniform(math.log(low), math.log(high))),
            dies_at=at + self._rng.uniform(*LIFETIME_SECONDS_RANGE),
        )
