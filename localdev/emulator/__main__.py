"""Run the emulator on its own: ``python -m localdev.emulator --port 0 --speed 50``.

Prints one line, ``ims-export emulator listening on http://127.0.0.1:<port>``, then serves until
interrupted (Ctrl-C or SIGTERM). Drive it with the control API under ``/_emulator/``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType
from typing import NoReturn

from localdev.emulator.clock import ManualClock
from localdev.emulator.config import EmulatorConfig
from localdev.emulator.server import Emulator

READY_PREFIX = "ims-export emulator listening on "


EXIT_BAD_ARGUMENTS = 2


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, exit code 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_ARGUMENTS, f"{self.prog}: error: {message} (--help lists the options)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port}: give 0 (any free port) to 65535")
    return port


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not speed > 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: emulated seconds per real second must be above 0")
    return speed


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m localdev.emulator", description=__doc__)
    parser.add_argument("--port", type=_port, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--speed", type=_speed, default=1.0, help="emulated seconds per real second")
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="time stands at the start time until POST /_emulator/clock/advance",
    )
    parser.add_argument("--user", default=EmulatorConfig.user_name, help="IAM user name")
    parser.add_argument("--domain", default=EmulatorConfig.domain_name, help="IAM domain (account) name")
    parser.add_argument(
        "--password-file", help="file holding the IAM password (default: the built-in emulator password)"
    )
    parser.add_argument("--token-size", type=int, default=EmulatorConfig.token_size)
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    return parser


def _refuse(message: str) -> int:
    print(f"python -m localdev.emulator: error: {message}", file=sys.stderr, flush=True)
    return EXIT_BAD_ARGUMENTS


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    password = EmulatorConfig.user_password
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as handle:
                password = handle.read().strip()
        except OSError as error:
            return _refuse(f"--password-file: {error.strerror}: {args.password_file}")
    try:
        config = EmulatorConfig(
            user_name=args.user, domain_name=args.domain, user_password=password, token_size=args.token_size
        )
    except ValueError as error:
        return _refuse(str(error))
    emulator = Emulator(
        config,
        # From the real time of its start: clients that keep their own clock (a runner against the
        # "real cloud") see job times they can compare with theirs.
        ManualClock(time.time()) if args.manual_clock else None,
        speed=args.speed,
        port=args.port,
        verbose=args.verbose,
    )
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        emulator.start()
    except OSError as error:  # the port is taken, or not ours to bind
        return _refuse(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}")
    try:
        print(f"{READY_PREFIX}{emulator.base_url}", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
