"""Make variables given on the command line that nothing reads: refused, naming the likely one meant.

``make run EVNT=events/export-failing.json`` would otherwise export the default event, and
``RETENTON_COUNT=2`` would change nothing, both without a word. The Makefile runs this (with the
machine's ``python3``, before any virtualenv exists) for every command-line variable; it reads the
names the project knows from where they are defined, not from a copy: the Makefile's own variables
(given as arguments), the settings' variables (``ENV_NAMES`` of the layer's ``settings.py``), the
template parameters the runner takes as variables (``PARAMETER_VARIABLES`` of ``localdev/run.py``), and
the ``OS_*`` variables of the cloud's credentials.

Usage: ``python3 localdev/make_variables.py --known NAME ... --given NAME ...``; exit 2 and one line on
stderr for an unknown name.
"""

from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    ROOT / "layers" / "common" / "ims_export" / "settings.py": ("ENV_NAMES", "values"),
    ROOT / "localdev" / "run.py": ("PARAMETER_VARIABLES", "keys"),
}
PREFIXES = ("OS_", "AWS_")  # the cloud's credentials (clouds.yaml or OS_*), an AWS profile or region
ALSO = ("IMS_EXPORT_SETTINGS",)


def _dictionary(path: Path, name: str, part: str) -> set[str]:
    """The string keys or values of the dictionary literal assigned to ``name`` at the module's top."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.AnnAssign | ast.Assign) or not isinstance(node.value, ast.Dict):
            continue
        targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            items = node.value.keys if part == "keys" else node.value.values
            return {
                item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)
            }
    raise LookupError(f"{name} not found in {path}")


def known_names(makefile_names: list[str]) -> set[str]:
    names = set(makefile_names) | set(ALSO)
    for path, (name, part) in SOURCES.items():
        names |= _dictionary(path, name, part)
    return names


def unknown(given: list[str], known: set[str]) -> list[str]:
    return [name for name in given if name not in known and not name.startswith(PREFIXES)]


def refusal(name: str, known: set[str]) -> str:
    # Make variables are case-sensitive; a name in the wrong case is most likely the known one.
    same_but_case = [candidate for candidate in sorted(known) if candidate.upper() == name.upper()]
    close = same_but_case or difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
    meant = f": did you mean {close[0]}?" if close else ""
    return (
        f"refused: make variable {name} is not one this project reads{meant} (make help lists the variables)"
    )


def main(argv: list[str]) -> int:
    known_at = argv.index("--known") if "--known" in argv else len(argv)
    given_at = argv.index("--given") if "--given" in argv else len(argv)
    makefile_names = argv[known_at + 1 : given_at] if known_at < given_at else argv[known_at + 1 :]
    given = argv[given_at + 1 :] if given_at < len(argv) else []
    known = known_names(makefile_names)
    for name in unknown(given, known):
        print(refusal(name, known), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
