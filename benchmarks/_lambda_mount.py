"""Deployed artifacts laid out as Lambda mounts them, for benchmarks that run handlers in fresh interpreters.

Lambda (python3.13) puts the function's code at LAMBDA_TASK_ROOT (/var/task), each layer's content at /opt
(its ``python/`` directory on sys.path), and the runtime's own boto3/botocore after them. Both trees are
read-only: Python uses the bytecode they ship and cannot cache what it compiles. A mount here is a copy
of ``sam build`` output (or of a benchmark layer built by the same recipe) in a temporary directory; the
runtime's packages come from a directory ``make bench`` installs once (.tools/bench).

The deployed layer holds arm64 extension modules. On another machine the mount adds the same versions of
those extension modules built for this machine next to them (from PyPI, cached in .tools/bench): the
Python files and their bytecode stay exactly as built.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAM_BUILD = ROOT / ".aws-sam" / "build"
BENCH_TOOLS = ROOT / ".tools" / "bench"
# What `make bench` builds for the comparison (see Makefile): the runtime's boto3, the vendor-SDK layer.
LAMBDA_TOOLS = BENCH_TOOLS / "lambda-py313"
RUNTIME_PACKAGES = LAMBDA_TOOLS / "runtime"
VENDOR_LAYER = LAMBDA_TOOLS / "vendor-layer"
HOST_EXTENSIONS = LAMBDA_TOOLS / "host-extensions"

RUNTIME_VERSION = "3.13"
BYTECODE_TAG = "cpython-313"


def runtime_python() -> Path | None:
    """A python3.13 (Lambda's runtime version) on this machine: pyenv's, else one on PATH."""
    try:
        pyenv_root = subprocess.run(
            ["pyenv", "root"],  # noqa: S607 - pyenv from PATH, where the Makefile finds it too
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pyenv_root = ""
    candidates = sorted(glob(f"{pyenv_root}/versions/{RUNTIME_VERSION}*/bin/python{RUNTIME_VERSION}"))
    found = candidates[-1] if pyenv_root and candidates else shutil.which(f"python{RUNTIME_VERSION}")
    return Path(found) if found else None


@dataclass(frozen=True)
class Mount:
    """One function as Lambda runs it: task root, one layer (the /opt directory), the runtime's packages."""

    task_root: Path
    opt: Path
    runtime_packages: Path

    @property
    def sys_path(self) -> tuple[str, ...]:
        """Lambda's order: task root, the layer's two python directories, then the runtime's packages."""
        layer = self.opt / "python"
        site = layer / "lib" / f"python{RUNTIME_VERSION}" / "site-packages"
        return (str(self.task_root), str(site), str(layer), str(self.runtime_packages))


def copy_tree(source: Path, destination: Path, *, bytecode: bool) -> Path:
    """A copy of ``source``; without ``bytecode``, one without any .pyc (nor __pycache__)."""
    ignore = None if bytecode else shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, destination, ignore=ignore, symlinks=True)
    return destination


def bytecode_files(tree: Path, tag: str = BYTECODE_TAG) -> list[Path]:
    return sorted(tree.rglob(f"__pycache__/*.{tag}.pyc"))


def sources_without_bytecode(tree: Path, tag: str = BYTECODE_TAG) -> list[Path]:
    """Python files under ``tree`` that have no ``tag`` bytecode beside them (each is compiled at import)."""
    return [
        source
        for source in sorted(tree.rglob("*.py"))
        if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file()
    ]


def _extension_arch(name: str) -> str | None:
    """The machine an extension module is for (``x.cpython-313-aarch64-linux-gnu.so``), None for abi3."""
    parts = name.split(".")
    tag = parts[-2] if len(parts) >= 3 else ""
    pieces = tag.split("-")
    return pieces[2] if len(pieces) >= 4 and pieces[0].startswith("cpython") else None


def foreign_distributions(site: Path, machine: str | None = None) -> list[str]:
    """``name==version`` of every distribution in ``site`` with extension modules for another machine."""
    machine = machine or platform.machine()
    found = []
    for dist_info in sorted(site.glob("*.dist-info")):
        record = dist_info / "RECORD"
        if not record.is_file():
            continue
        archs = {
            _extension_arch(Path(line.split(",")[0]).name)
            for line in record.read_text(encoding="utf-8").splitlines()
            if line.split(",")[0].endswith(".so")
        }
        if archs - {None, machine}:
            name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
            found.append(f"{name}=={version}")
    return found


def host_extensions(requirements: list[str], python: Path, cache: Path = HOST_EXTENSIONS) -> Path:
    """Those distributions built for this machine, installed once into a cache keyed by the list."""
    target = cache / "-".join(sorted(requirement.replace("==", "-") for requirement in requirements))
    if not (target / ".installed").is_file():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(  # noqa: S603 - our interpreter, pinned names read from the built layer
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-compile",
                "--only-binary=:all:",
                "--target",
                str(target),
                *requirements,
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (target / ".installed").touch()
    return target


def add_host_extensions(site: Path, extensions: Path) -> int:
    """Copy the extension modules of ``extensions`` into ``site`` at the same places; how many."""
    copied = 0
    for module in extensions.rglob("*.so"):
        destination = site / module.relative_to(extensions)
        if destination.parent.is_dir():
            shutil.copy2(module, destination)
            copied += 1
    return copied


def mount_layer(layer_dir: Path, destination: Path, *, bytecode: bool, python: Path) -> Path:
    """``layer_dir`` copied to ``destination`` (an /opt), runnable on this machine; returns it."""
    opt = copy_tree(layer_dir, destination, bytecode=bytecode)
    foreign = foreign_distributions(opt / "python")
    if foreign:
        add_host_extensions(opt / "python", host_extensions(foreign, python))
    return opt


def lambda_environment(function_name: str, handler: str, task_root: Path) -> dict[str, str]:
    """The variables Lambda sets for every python3.13 function with active tracing (arm64, 256 MB)."""
    keep = {"PATH", "HOME", "SYSTEMROOT"}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment.update(
        {
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(RUNTIME_PACKAGES),
            "_HANDLER": handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{RUNTIME_VERSION}",
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]00000000000000000000000000000000",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": "eu-central-1",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            # Active tracing: a sampled trace per invocation; the X-Ray SDK sends segments to the daemon.
            "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            # /var/task and /opt are read-only: nothing compiled at import is kept.
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return environment


def xray_daemon_environment(address: str) -> dict[str, str]:
    host, port = address.rsplit(":", 1)
    return {
        "AWS_XRAY_DAEMON_ADDRESS": address,
        "_AWS_XRAY_DAEMON_ADDRESS": host,
        "_AWS_XRAY_DAEMON_PORT": port,
    }
