"""Artifact size: the unzipped size of the built layer and functions, the largest packages of the layer,
and a check that boto3, botocore and s3transfer (provided by the Lambda runtime) are not shipped.

Reads .aws-sam/build when ``sam build`` has run; otherwise builds the layer the way SAM does
(layers/common/Makefile, build-CommonLayer, which downloads aarch64 wheels from PyPI) into a temporary
directory. Without network, it says it skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._tables import table

ROOT = Path(__file__).resolve().parent.parent
SAM_BUILD = ROOT / ".aws-sam" / "build"
FUNCTIONS = ("StartExportFunction", "CheckExportFunction", "RefreshTokenFunction")
FORBIDDEN = ("boto3", "botocore", "s3transfer")
TOP_PACKAGES = 8
MIB = 1 << 20


def tree_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def package_sizes(site: Path) -> list[tuple[str, int]]:
    """Size of each top-level entry of ``site`` (.dist-info counted apart), largest first."""
    sizes = [
        (entry.name, tree_size(entry) if entry.is_dir() else entry.stat().st_size) for entry in site.iterdir()
    ]
    return sorted(sizes, key=lambda item: -item[1])


def forbidden_inside(site: Path) -> list[str]:
    return sorted(entry.name for entry in site.iterdir() if entry.name.split("-")[0] in FORBIDDEN)


def build_layer(artifacts: Path) -> bool:
    """build-CommonLayer into ``artifacts``; False when pip cannot reach PyPI."""
    completed = subprocess.run(  # noqa: S603
        [  # noqa: S607 - make from PATH, as SAM runs it
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT / "layers" / "common"),
            "build-CommonLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ),
    )
    if completed.returncode != 0:
        print(completed.stderr[-1500:])
    return completed.returncode == 0


def report(layer: Path, functions: dict[str, Path]) -> int:
    site = layer / "python"
    rows = [["CommonLayer", f"{tree_size(layer) / MIB:.2f} MiB"]]
    rows += [[name, f"{tree_size(path) / 1024:.1f} KiB"] for name, path in functions.items()]
    print(table(["artifact", "unzipped"], rows))
    print()
    print(
        table(
            ["layer package", "MiB"], [[n, f"{s / MIB:.2f}"] for n, s in package_sizes(site)[:TOP_PACKAGES]]
        )
    )
    forbidden = forbidden_inside(site)
    print()
    print(f"boto3/botocore/s3transfer in the layer: {', '.join(forbidden) if forbidden else 'none'}")
    return 1 if forbidden else 0


def main() -> int:
    if (SAM_BUILD / "CommonLayer" / "python").is_dir():
        print(f"from {SAM_BUILD.relative_to(ROOT)} (sam build)")
        return report(
            SAM_BUILD / "CommonLayer",
            {name: SAM_BUILD / name for name in FUNCTIONS if (SAM_BUILD / name).is_dir()},
        )
    with tempfile.TemporaryDirectory() as tmp:
        layer = Path(tmp) / "CommonLayer"
        if not build_layer(layer):
            print("artifact size skipped: the layer could not be built (is PyPI reachable?)")
            return 0
        print("layer built with layers/common/Makefile; functions as their source directories")
        return report(
            layer, {path.name: path for path in sorted((ROOT / "functions").iterdir()) if path.is_dir()}
        )


if __name__ == "__main__":
    sys.exit(main())
