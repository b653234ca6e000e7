"""Make variables given on the command line that nothing reads: refused, naming the likely one meant.

``make run EVNT=events/export-failing.json`` would otherwise export the default event, and
``RETENTON_COUNT=2`` would change nothing, both without a word. The Makefile runs this (with the
machine's ``python3``, before any virtualenv exists) for every command-line variable; it reads the
names the project knows from where they are defined, not from a copy: the Makefile's own variables
(given as arguments), the settings' variables (``ENV_NAMES`` of the layer's ``settings.py``), the
template parameters the runner takes as variables (``PARAMETER_VARIABLES`` of
``localdev/runner/parameters.py``), and the ``OS_*`` variables of the cloud's credentials.

A variable the goals given do not read is refused too: ``make deploy EXPORT_BUCKET=b`` would deploy with
the template's defaults (the settings' variables are the runner's; a deploy takes template parameters
as ``PARAMS``); ``make wire-notifications`` takes its own few (``WIRING_VARIABLES``), and ``APPLY=1``
or ``SMN_ENDPOINT=`` given to any other goal is refused.

Usage: ``python3 localdev/make_variables.py --known NAME ... [--goals GOAL ...] --given NAME ...``; exit 2
and one line on stderr for an unknown name.
"""

from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    ROOT / "layers" / "common" / "ims_export" / "settings.py": ("ENV_NAMES", "values"),
    ROOT / "localdev" / "runner" / "parameters.py": ("PARAMETER_VARIABLES", "keys"),
}
PREFIXES = ("OS_", "AWS_")  # the cloud's credentials (clouds.yaml or OS_*), an AWS profile or region
ALSO = ("IMS_EXPORT_SETTINGS",)
# What the deploy goals read: anything else on their command line would be silently ignored.
DEPLOY_GOALS = frozenset({"build", "deploy", "delete"})
DEPLOY_VARIABLES = frozenset({"REGION", "PARAMS", "PYTHON"})
# What make wire-notifications reads (besides OS_*), and the variables no other goal reads.
WIRING_GOAL = "wire-notifications"
WIRING_ONLY = frozenset({"SMN_ENDPOINT", "TOPIC", "APPLY", "UNDO", "SMN_API_ENDPOINT"})
WIRING_VARIABLES = WIRING_ONLY | {
    "EXPORT_BUCKET",
    "EXPORT_OBJECT_PATTERN",
    "OBS_ENDPOINT",
    "CLOUD",
    "CLOUD_REGION",
    "PYTHON",
}


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


def not_for_the_deploy(goals: list[str], given: list[str]) -> list[str]:
    """The variables given to a deploy goal (build, deploy, delete) that none of them reads."""
    if not DEPLOY_GOALS & set(goals):
        return []
    return [name for name in given if name not in DEPLOY_VARIABLES and not name.startswith("AWS_")]


def not_for_the_wiring(goals: list[str], given: list[str]) -> list[str]:
    """Refusals of the variables given that make wire-notifications does not read, or that only it reads:
    ``make wire-notifications EVENT=...`` and ``make run APPLY=1`` would ignore them."""
    if WIRING_GOAL in goals:
        reads = ", ".join(sorted(WIRING_VARIABLES - {"PYTHON"}))
        return [
            f"refused: make variable {name} is not read by make {WIRING_GOAL} (it reads {reads} and OS_*)"
            for name in given
            if name not in WIRING_VARIABLES and not name.startswith("OS_")
        ]
    return [
        f"refused: make variable {name} is read by make {WIRING_GOAL} only"
        for name in given
        if name in WIRING_ONLY
    ]


def _section(argv: list[str], flag: str) -> list[str]:
    """The words after ``flag`` up to the next ``--`` flag."""
    if flag not in argv:
        return []
    words = argv[argv.index(flag) + 1 :]
    ends = [index for index, word in enumerate(words) if word.startswith("--")]
    return words[: ends[0]] if ends else words


def main(argv: list[str]) -> int:
    given = _section(argv, "--given")
    known = known_names(_section(argv, "--known"))
    for name in unknown(given, known):
        print(refusal(name, known), file=sys.stderr)
        return 2
    for refusal_text in not_for_the_wiring(_section(argv, "--goals"), given):
        print(refusal_text, file=sys.stderr)
        return 2
    for name in not_for_the_deploy(_section(argv, "--goals"), given):
        print(
            f"refused: make variable {name} is read by make run, not by a deploy: give template parameters "
            'as PARAMS="ExportBucket=... Settings=..." (docs/configuration.md names them)',
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
