"""The local runner's pieces; ``python -m localdev.run`` (``localdev/run.py``) is its command line."""
