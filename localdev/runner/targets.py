"""Where a local run exports from: the built-in emulator, or the real cloud the ``OS_*`` variables name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from localdev.cloud_config import CloudConfigError, cloud_settings
from localdev.runner.errors import RunError

if TYPE_CHECKING:
    from localdev.emulator import Control, Emulator, EmulatorConfig, ManualClock

EMULATOR_BUCKET = "ims-export-demo"


@dataclass(frozen=True)
class CloudTarget:
    """Where IAM and IMS are, and the credentials to put into the (moto) credentials parameter."""

    description: str
    parameters: dict[str, str]
    credentials: dict[str, str]
    on_wait: Callable[[float], object]
    secrets: tuple[str, ...]
    # Tunable settings by variable name (IAM_ENDPOINT, ...): the Settings parameter's JSON object.
    settings: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None  # the workflow's "now"; None is real time
    control: Control | None = None  # the emulator's control (faults, counters); None for a real cloud


def real_cloud_target(
    environ: Mapping[str, str], on_wait: Callable[[float], object] = time.sleep
) -> CloudTarget:
    """The cloud named by ``OS_CLOUD`` (clouds.yaml) and the ``OS_*`` variables OTC users already have."""
    try:
        cloud = cloud_settings(environ)
    except CloudConfigError as error:
        raise RunError(str(error)) from None
    parameters: dict[str, str] = {}
    settings: dict[str, str] = {}
    if cloud.auth_url:
        settings["IAM_ENDPOINT"] = cloud.auth_url
    if cloud.region_name:  # derives the IAM endpoint when none is given, and picks the catalog's region
        parameters["CloudRegion"] = cloud.region_name
    if cloud.project_name:
        parameters["ProjectName"] = cloud.project_name
    if cloud.project_id:
        settings["PROJECT_ID"] = cloud.project_id
    credentials = {
        "user_name": cloud.username,
        "password": cloud.password,
        "domain_name": cloud.domain_name,
    }
    where = cloud.auth_url or f"region {cloud.region_name}"
    return CloudTarget(
        description=f"real cloud at {where} ({cloud.source})",
        parameters=parameters,
        credentials=credentials,
        on_wait=on_wait,
        secrets=(cloud.password,),
        settings=settings,
    )


def emulator_target(emulator: Emulator, clock: ManualClock, description: str | None = None) -> CloudTarget:
    """The cloud target of a running emulator whose clock the state machine's waits advance."""
    config = emulator.config
    return CloudTarget(
        description=description or f"built-in emulator at {emulator.base_url}",
        parameters={"CloudRegion": config.region},
        settings={
            "IAM_ENDPOINT": emulator.iam_url,
            "IMS_ENDPOINT": emulator.base_url,
            "OBS_ENDPOINT": emulator.obs_url,
        },
        credentials={
            "user_name": config.user_name,
            "password": config.user_password,
            "domain_name": config.domain_name,
        },
        on_wait=clock.advance,
        clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        secrets=(config.user_password,),
        control=emulator.control,
    )


@contextmanager
def emulated_cloud(config: EmulatorConfig | None = None) -> Iterator[CloudTarget]:
    """The built-in emulator on a free loopback port, its clock advanced by the state machine's waits."""
    from localdev.emulator import Emulator, ManualClock

    # Start at the real time, so that timestamps read sensibly; every Wait then moves it forward.
    clock = ManualClock(start=time.time())
    with Emulator(config, clock=clock) as emulator:
        yield emulator_target(emulator, clock)
