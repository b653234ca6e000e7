"""``python -m localdev.wiring`` (``make wire-notifications``): see ``cli``."""

import sys
from pathlib import Path

# ``ims_export`` as the Lambda layer makes it importable, as the local runner does (use_layer_on_path).
LAYER = str(Path(__file__).resolve().parents[2] / "layers" / "common")
if LAYER not in sys.path:
    sys.path.insert(0, LAYER)

from localdev.wiring.cli import main  # noqa: E402 (after the layer is on the path)

sys.exit(main())
