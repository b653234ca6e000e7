"""A session-wide leak detector: every log record and state payload, searched for every known secret.

``tests/conftest.py`` installs one ``SecretsCollector`` for the whole run. It sees

- every log record any logger passes to its handlers (``logging.Logger.callHandlers`` is wrapped, so
  Powertools loggers, which do not propagate to the root logger, are seen too): the message formatted
  with its args, the ``extra`` fields, the exception text, and the line as each of the logger's own
  handlers formats it (the Powertools JSON line);
- the history of every execution of every ``LocalWorkflow``, and the event and result of every Lambda
  invocation in it, collected when the workflow exits.

Known secrets are registered as they appear: the emulator's password, every token it issues and the
secret key and security token of every temporary credential (its state, token registry and OBS state
are wrapped), plus fixed test secrets. Texts are kept and searched at the end,
so a secret registered after a text was produced is still found. A report names the secret by label and
shows the place with the secret replaced: the report itself leaks nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

# Shorter strings would match by chance; every real secret of the suite is longer.
MIN_SECRET_LENGTH = 8
# Long secrets (tokens) are also searched by fragments, so that a truncated copy is found too.
FRAGMENT_LENGTH = 48
EXCERPT_CONTEXT = 60
# Context shown around a find must not carry the rest of a secret: long base64-like runs are masked.
_LONG_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
_STANDARD_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


@dataclass(frozen=True)
class Leak:
    """Where a secret was found; never the secret itself."""

    secret: str  # the secret's label
    source: str
    test: str
    excerpt: str

    def describe(self) -> str:
        return f"{self.secret} found in {self.source} (during {self.test or 'no test'}): ...{self.excerpt}..."


def _fragments(secret: str) -> tuple[str, ...]:
    if len(secret) < 3 * FRAGMENT_LENGTH:
        return (secret,)
    middle = (len(secret) - FRAGMENT_LENGTH) // 2
    return (
        secret[:FRAGMENT_LENGTH],
        secret[middle : middle + FRAGMENT_LENGTH],
        secret[-FRAGMENT_LENGTH:],
    )


class SecretsCollector:
    def __init__(self, current_test: Callable[[], str] = lambda: "") -> None:
        self._current_test = current_test
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}  # secret -> label
        self._texts: list[tuple[str, str, str]] = []  # (source, test, text)
        self._restore: list[Callable[[], None]] = []

    # --- feeding ---------------------------------------------------------------------------------

    def register(self, secret: str, label: str) -> None:
        if len(secret) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.setdefault(secret, label)

    def knows(self, secret: str) -> bool:
        with self._lock:
            return secret in self._secrets

    def register_token(self, token: str) -> None:
        with self._lock:
            label = f"token #{sum(1 for label in self._secrets.values() if label.startswith('token #')) + 1}"
        self.register(token, label)

    def collect(self, source: str, text: str) -> None:
        with self._lock:
            self._texts.append((source, self._current_test(), text))

    def collect_record(self, logger: logging.Logger, record: logging.LogRecord) -> None:
        """The record as text, in every form it can leave the process."""
        parts = [_safe(record.getMessage)]
        if record.exc_info and not record.exc_text:
            parts.append(_safe(lambda: logging.Formatter().formatException(record.exc_info)))  # type: ignore[arg-type]
        parts.append(record.exc_text or "")
        extras = {key: value for key, value in vars(record).items() if key not in _STANDARD_RECORD_FIELDS}
        if extras:
            parts.append(json.dumps(extras, default=repr))
        # Powertools: the JSON line its handler writes, appended keys included.
        parts.extend(
            _safe(partial(handler.format, record)) for handler in logger.handlers if handler.formatter
        )
        self.collect(f"log record of {record.name!r} ({record.levelname})", "\n".join(parts))

    def collect_workflow(self, workflow: Any) -> None:
        """Every execution's history and every Lambda invocation of a ``LocalWorkflow``."""
        for execution in workflow.executions():
            arn = execution["executionArn"]
            self.collect(f"history of execution {arn}", json.dumps(workflow.history(arn), default=str))
        for invocation in workflow.invocations:
            self.collect(
                f"invocation of {invocation.function}",
                json.dumps([invocation.event, invocation.result, invocation.error], default=str),
            )

    # --- checking --------------------------------------------------------------------------------

    def leaks(self) -> list[Leak]:
        with self._lock:
            secrets = list(self._secrets.items())
            texts = list(self._texts)
        found: list[Leak] = []
        for source, test, text in texts:
            for secret, label in secrets:
                fragment = next((part for part in _fragments(secret) if part in text), None)
                if fragment is not None:
                    found.append(Leak(label, source, test, _excerpt(text, fragment, label)))
        return found

    # --- installation ------------------------------------------------------------------------------

    def install(self, extra_secrets: Iterable[tuple[str, str]] = ()) -> None:
        """Start collecting: wrap logging, ``LocalWorkflow`` and the emulator's secrets."""
        from localdev.emulator.obs_state import ObsState
        from localdev.emulator.state import EmulatorState
        from localdev.emulator.tokens import TokenRegistry
        from localdev.stepfunctions import LocalWorkflow

        for secret, label in extra_secrets:
            self.register(secret, label)
        collector = self

        def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            collector.collect_record(logger, record)
            original_call_handlers(logger, record)

        def workflow_exit(workflow: LocalWorkflow, *exc: object) -> None:
            try:
                if workflow.sfn is not None:
                    collector.collect_workflow(workflow)
            finally:
                original_exit(workflow, *exc)

        def token_added(registry: TokenRegistry, token: str, record: Any) -> None:
            collector.register_token(token)
            original_add(registry, token, record)

        def credential_added(obs: ObsState, credential: Any) -> None:
            collector.register(credential.secret, "temporary secret key")
            collector.register(credential.security_token, "temporary security token")
            original_add_credential(obs, credential)

        def state_init(state: EmulatorState, config: Any, clock: Any) -> None:
            collector.register(config.user_password, "emulator password")
            original_state_init(state, config, clock)

        original_call_handlers = logging.Logger.callHandlers
        original_exit = LocalWorkflow.__exit__
        original_add = TokenRegistry.add
        original_state_init = EmulatorState.__init__
        original_add_credential = ObsState.add_credential
        self._patch(logging.Logger, "callHandlers", call_handlers)
        self._patch(LocalWorkflow, "__exit__", workflow_exit)
        self._patch(TokenRegistry, "add", token_added)
        self._patch(EmulatorState, "__init__", state_init)
        self._patch(ObsState, "add_credential", credential_added)

    def uninstall(self) -> None:
        for restore in reversed(self._restore):
            restore()
        self._restore.clear()

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        original = vars(owner)[name]
        setattr(owner, name, replacement)
        self._restore.append(lambda: setattr(owner, name, original))


def _safe(render: Callable[[], str]) -> str:
    try:
        return str(render())
    except Exception as error:  # a broken log call must not break the test that made it
        return f"<unrenderable: {type(error).__name__}>"


def _excerpt(text: str, fragment: str, label: str) -> str:
    """The place around ``fragment``, with it and any long token-like run beside it masked."""
    at = text.index(fragment)
    before = _LONG_TOKEN_RUN.sub("<...>", text[max(0, at - EXCERPT_CONTEXT) : at])
    after = _LONG_TOKEN_RUN.sub("<...>", text[at + len(fragment) : at + len(fragment) + EXCERPT_CONTEXT])
    return f"{before}<{label}>{after}".replace("\n", " ")


def leaks_as_dicts(leaks: Iterable[Leak]) -> list[dict[str, str]]:
    return [asdict(leak) for leak in leaks]
