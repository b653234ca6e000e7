"""The fault matrix: run the whole workflow once per fault and print what happened as a markdown table.

    python -m localdev.fault_matrix            # every row; exit status 1 if one differs from its expectation
    python -m localdev.fault_matrix iam_locked # only the named rows

Every row runs the real state machine and handlers through the local runner (``localdev/runner``) against
a fresh emulator, with one fault injected: through the emulator's control (a fault, or an answer
dialect of another cloud or API generation), into the token cache parameter, SSM reads or endpoints.
It records the terminal state, the error name, how many export jobs IMS created and how many times
IAM was asked for a token. A "slow" answer stalls far longer than the (generous) HTTP timeout and
is never handled late, so the rows do not depend on how fast the machine is; every Wait and Retry
interval only moves the emulator's clock.
``tests/faults`` runs the same rows and asserts their expected outcomes; ``docs/fault-matrix.md`` is
this script's output.

The rows are ``cases.py`` (what a row is), ``rows.py`` and ``ims_rows.py`` (the rows), ``observe.py``
(one row run) and ``table.py`` (the markdown table); ``__main__.py`` is the command line.
"""
