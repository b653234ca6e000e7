"""Settings of one emulator instance: the account it knows and how fast emulated things happen.

Defaults are the documented seed account (see ``seed.py``); every field can be overridden, e.g.
``EmulatorConfig(user_password="...", export_bytes_per_second=10 * MIB)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1024**2

DEFAULT_PROJECT_ID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
DEFAULT_DOMAIN_ID = "d0e1f2a3b4c54d6e8f90a1b2c3d4e5f6"
DEFAULT_USER_ID = "a9b8c7d6e5f44a3b9c2d1e0f1a2b3c4d"
DEFAULT_BUCKET = "ims-export-demo"
# Above about 21 KB the DER length no longer encodes as "MII...": real tokens never get there.
MAX_TOKEN_SIZE = 20000


@dataclass(frozen=True)
class EmulatorConfig:
    region: str = "eu-de"
    project_id: str = DEFAULT_PROJECT_ID
    project_name: str = ""  # empty: the region name, like a region's default project
    domain_id: str = DEFAULT_DOMAIN_ID
    domain_name: str = "OTC-EU-DE-00000000001000000001"
    user_id: str = DEFAULT_USER_ID
    user_name: str = "ims-export"
    # Emulated credential of the emulated user: still kept out of reprs, like a real one.
    user_password: str = field(default="emulator-password", repr=False)
    buckets: tuple[str, ...] = (DEFAULT_BUCKET,)
    token_lifetime_seconds: float = 24 * 3600
    token_size: int = 7800  # characters of X-Subject-Token; real ones are about 5-8 KB
    job_init_seconds: float = 10.0  # how long a new job stays INIT
    export_bytes_per_second: float = 64 * MIB  # of emulated time
    min_export_seconds: float = 30.0
    image_activation_seconds: float = 300.0  # queued/saving -> active
    fail_at_fraction: float = 0.4  # how far a doomed export gets before FAIL
    max_running_exports: int | None = None  # beyond it: IMG.0060 flow control
    seed_images: bool = True

    def __post_init__(self) -> None:
        if not 1000 <= self.token_size <= MAX_TOKEN_SIZE:
            raise ValueError(f"token_size must be between 1000 and {MAX_TOKEN_SIZE} characters")
        if self.export_bytes_per_second <= 0:
            raise ValueError("export_bytes_per_second must be positive")
        if not 0 < self.fail_at_fraction < 1:
            raise ValueError("fail_at_fraction must be between 0 and 1")
        for name in (
            "token_lifetime_seconds",
            "job_init_seconds",
            "min_export_seconds",
            "image_activation_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not self.project_name:
            object.__setattr__(self, "project_name", self.region)
