"""Performance benchmarks of ims-export (``make bench`` runs ``python -m benchmarks``).

Every module of this package that defines ``main() -> int`` is one benchmark: it prints its figures
and returns a non-zero code when a target it checks is missed. Benchmarks run offline.
"""

import sys
from pathlib import Path

# Import the layer package the way Lambda does (layers/common is /opt/python there).
_LAYER_ROOT = str(Path(__file__).resolve().parent.parent / "layers" / "common")
if _LAYER_ROOT not in sys.path:
    sys.path.insert(0, _LAYER_ROOT)
