"""A second Step Functions engine (LocalStack's, on the host) for the parity tests: the recorded runs of
the project's own replayed on it and on the moto harness with the same Lambda answers (docs/engines.md)."""
