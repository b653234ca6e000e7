"""A local emulator of the IAM token API and the IMS export APIs, faithful to the OTC/Huawei Cloud
API references.

    from localdev.emulator import Emulator, ManualClock, seed

    clock = ManualClock()
    with Emulator(clock=clock) as emulator:
        # IAM at emulator.iam_url, IMS at emulator.base_url (also the catalog's "image" endpoint)
        emulator.control.inject("export", "throttled", times=2)
        clock.advance(600)  # instead of sleeping

Modules: clock (time), config (settings), seed (sample catalog and its fixed ids), model, tokens, jobs,
dialects (switchable answer variations),
validation (export rules and IMG codes), listing (image filters and paging), iam, ims, faults,
counters, control (test API), control_api (the same over HTTP), server (HTTP and ``Emulator``).
"""

from localdev.emulator import seed
from localdev.emulator.clock import Clock, ManualClock, ScaledClock
from localdev.emulator.config import DEFAULT_BUCKET, DEFAULT_PROJECT_ID, EmulatorConfig
from localdev.emulator.control import Control, ControlError
from localdev.emulator.faults import FaultKind, Route
from localdev.emulator.model import ExportFailure
from localdev.emulator.server import Emulator

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_PROJECT_ID",
    "Clock",
    "Control",
    "ControlError",
    "Emulator",
    "EmulatorConfig",
    "ExportFailure",
    "FaultKind",
    "ManualClock",
    "Route",
    "ScaledClock",
    "seed",
]
