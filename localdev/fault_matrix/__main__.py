"""``python -m localdev.fault_matrix [row ...]``: the rows run, their table printed (exit status 1 if a
row differs from its expectation)."""

from __future__ import annotations

import argparse
import sys

from localdev import fault_matrix
from localdev.fault_matrix.observe import run_case
from localdev.fault_matrix.rows import CASES
from localdev.fault_matrix.table import markdown_table
from localdev.runner.environment import isolate_from_aws, quiet_libraries, use_layer_on_path


def main(argv: list[str] | None = None) -> int:
    use_layer_on_path()
    isolate_from_aws()
    quiet_libraries()
    parser = argparse.ArgumentParser(
        prog="python -m localdev.fault_matrix", description=(fault_matrix.__doc__ or "").splitlines()[0]
    )
    parser.add_argument("rows", nargs="*", help=f"row keys (default: all): {', '.join(c.key for c in CASES)}")
    args = parser.parse_args(argv)
    unknown = set(args.rows) - {case.key for case in CASES}
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    cases = [case for case in CASES if not args.rows or case.key in args.rows]
    observations = []
    for case in cases:
        print(f"running {case.key} ...", file=sys.stderr, flush=True)
        observations.append(run_case(case))
    print(markdown_table(observations), end="")
    return 0 if all(observation.as_expected for observation in observations) else 1


if __name__ == "__main__":
    sys.exit(main())
