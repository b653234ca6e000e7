"""Refuse a ``sam build`` output that does not hold the sources it was built from.

SAM's build cache reuses a function's or layer's last build when the source hash it keeps in
``build.toml`` (beside the build directory) matches; a second build of the same template into another
directory under the same parent (another environment, another cache) rewrites that hash, and the first
build's cache then passes stale code off as current. This check compares every Python file of each
function's ``CodeUri`` and each package of a layer's ``ContentUri`` with the build, so ``make build`` and
``make deploy`` stop before a stale artifact is uploaded.

Usage: ``python -m localdev.build_check BUILD_DIR [TEMPLATE]``; exit 1 naming what differs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from localdev.cfn_yaml import load_template

ROOT = Path(__file__).resolve().parent.parent


def _sources(directory: Path) -> dict[Path, bytes]:
    return {
        path.relative_to(directory): path.read_bytes()
        for path in sorted(directory.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _compare(source: Path, built: Path, label: str) -> Iterator[str]:
    expected, found = _sources(source), _sources(built) if built.is_dir() else {}
    for name, content in expected.items():
        if name not in found:
            yield f"{label}: {name} is missing from {built}"
        elif found[name] != content:
            yield f"{label}: {name} in {built} differs from its source"
    for name in sorted(set(found) - set(expected)):
        yield f"{label}: {name} in {built} has no source any more"


def stale_artifacts(build_dir: Path, template: Path) -> list[str]:
    """What the build at ``build_dir`` holds that is not the template's code as it is now."""
    resources = load_template(template).get("Resources", {})
    found: list[str] = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            source = template.parent / properties["CodeUri"]
            found += _compare(source, build_dir / logical_id, logical_id)
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            content = template.parent / str(properties.get("ContentUri", ""))
            for package in sorted(path.parent for path in content.glob("*/__init__.py")):
                built = build_dir / logical_id / "python" / package.name
                found += _compare(package, built, f"{logical_id} ({package.name})")
    return found


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print("usage: python -m localdev.build_check BUILD_DIR [TEMPLATE]", file=sys.stderr)
        return 2
    build_dir = Path(argv[0])
    template = Path(argv[1]) if len(argv) > 1 else ROOT / "template.yaml"
    stale = stale_artifacts(build_dir, template)
    if stale:
        print(
            f"sam build output in {build_dir} is not the code as it is now (a stale build cache?): "
            + "; ".join(stale[:10])
            + (f"; and {len(stale) - 10} more" if len(stale) > 10 else "")
            + f". Nothing was deployed: remove {build_dir} and its cache (make clean) and build again",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
