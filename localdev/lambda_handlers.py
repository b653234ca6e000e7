"""The functions' handlers in this process, as Lambda runs them: each ``functions/<name>/app.py`` loaded
once under a name of its own, and the context Powertools reads."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class FakeLambdaContext:
    """What Powertools reads from a Lambda context."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


_handler_modules: dict[Path, Any] = {}


def load_function_module(path: str | Path) -> Any:
    """The module of ``functions/<name>/app.py`` (all named app.py), loaded once under a unique name."""
    resolved = Path(path).resolve()
    module = _handler_modules.get(resolved)
    if module is None:
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
        name = f"lambda_{resolved.parent.name}_{digest}"
        spec = importlib.util.spec_from_file_location(name, resolved)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load a handler from {resolved}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _handler_modules[resolved] = module
    return module


def load_handler(path: str | Path, attribute: str = "lambda_handler") -> Handler:
    """The handler function of a function module (see ``load_function_module``)."""
    handler: Handler = getattr(load_function_module(path), attribute)
    return handler


def placeholder_code_package() -> bytes:
    """moto wants a code package; the code that runs is the in-process handler."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()
