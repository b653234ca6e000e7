"""The HTTP server: IAM, IMS, OBS, SMN's topic API and the control API on one loopback port, in-process
or standalone.

with Emulator(clock=ManualClock()) as emulator:
    emulator.iam_url        # http://127.0.0.1:<port>/v3   (IAM)
    emulator.base_url       # http://127.0.0.1:<port>      (IMS; also the catalog's "image" URL)
    emulator.control        # faults, time, tokens, counters (see control.py)
"""

from __future__ import annotations

import json
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from localdev.emulator import control_api, iam, ims, obs, smn_api
from localdev.emulator.clock import Clock, ScaledClock
from localdev.emulator.config import EmulatorConfig
from localdev.emulator.control import Control
from localdev.emulator.faults import AFTER_PROCESSING, FaultKind, Route, fault_reply, rewrite_handled
from localdev.emulator.replies import ApiError, Reply, keystone_error, not_found
from localdev.emulator.request import Request
from localdev.emulator.state import EmulatorState

Handler = Callable[[EmulatorState, Request, re.Match[str]], Reply]
_ID = r"(?P<{}>[^/]+)"


@dataclass(frozen=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    route: Route
    handler: Handler


def _endpoint(method: str, path: str, route: Route, handler: Handler) -> Endpoint:
    """``path`` names its parameters ``{image_id}``, ``{job_id}`` or ``{project_id}``."""
    parameters = {name: _ID.format(name) for name in ("image_id", "job_id", "project_id")}
    return Endpoint(method, re.compile(path.format(**parameters) + "$"), route, handler)


ENDPOINTS = (
    _endpoint("POST", "/v3/auth/tokens", Route.IAM_TOKEN, lambda s, r, m: iam.issue_token(s, r)),
    _endpoint(
        "POST",
        "/v1/cloudimages/{image_id}/file",
        Route.EXPORT,
        lambda s, r, m: ims.export_image(s, r, m["image_id"]),
    ),
    _endpoint(
        "GET",
        "/v1/cloudimages/job/{job_id}",
        Route.JOB_PROGRESS,
        lambda s, r, m: ims.show_job(s, r, m["job_id"]),
    ),
    _endpoint(
        "GET",
        "/v1/{project_id}/jobs/{job_id}",
        Route.JOB,
        lambda s, r, m: ims.show_job(s, r, m["job_id"], m["project_id"]),
    ),
    _endpoint("GET", "/v2/cloudimages", Route.IMAGE_LIST, lambda s, r, m: ims.show_images(s, r)),
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: EmulatorState, control: Control, verbose: bool):
        super().__init__(address, _RequestHandler)
        self.state = state
        self.control = control
        self.verbose = verbose


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as a client's session expects
    # Buffer the answer so headers and body leave in one segment: separate small writes meet
    # Nagle's algorithm and delayed ACKs, which add 40 ms to every request.
    wbufsize = 64 * 1024
    server_version = "ims-export-emulator"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        # The request line carries no secret; headers (X-Auth-Token) are never logged.
        if self.server.verbose:
            sys.stderr.write(f"emulator: {format % args}\n")

    def _read_request(self) -> Request:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        return Request(
            method=self.command,
            path=url.path.rstrip("/") or "/",
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            base_url=self.server.state.base_url,
        )

    def _dispatch(self) -> None:
        try:
            request = self._read_request()
        except ValueError:
            self._send(keystone_error(400, "Malformed request.").reply)
            return
        try:
            if control_api.handles(request.path):
                self._send(control_api.handle(self.server.control, request))
            elif obs.handles(request):
                self._send(obs.handle(self.server.state, request))
            elif smn_api.handles(request):
                self._send(smn_api.handle(self.server.state, request))
            else:
                self._serve_api(request)
        except ApiError as error:
            self._send(error.reply)
        except Exception:
            traceback.print_exc()
            self._send(keystone_error(500, "Internal error of the emulator.").reply)

    def _serve_api(self, request: Request) -> None:
        endpoint, match = self._find(request)
        state = self.server.state
        state.counters.request(endpoint.route)
        gone = state.dialect.api_gone(endpoint.route)
        if gone is not None:
            self._send(gone)
            return
        fault = state.faults.take(endpoint.route)
        if fault is not None:
            if fault.kind is FaultKind.DROP:
                self.close_connection = True
                return
            if fault.kind is FaultKind.SLOW and state.stopping.wait(fault.delay_seconds):
                self.close_connection = True  # the emulator stops: never handle a stalled request late
                return
            reply = fault_reply(fault)
            if reply is not None:
                self._send(reply)
                return
        try:
            reply = endpoint.handler(state, request, match)
        except ApiError as error:
            reply = error.reply
        if fault is not None and fault.kind is FaultKind.DROP_AFTER_PROCESSING:
            self.close_connection = True
            return
        if fault is not None and fault.kind in AFTER_PROCESSING:
            reply = rewrite_handled(fault, reply)
        self._send(reply)

    def _find(self, request: Request) -> tuple[Endpoint, re.Match[str]]:
        path_known = False
        for endpoint in ENDPOINTS:
            match = endpoint.pattern.match(request.path)
            if match is None:
                continue
            if endpoint.method == request.method:
                return endpoint, match
            path_known = True
        if path_known:
            raise keystone_error(405, f"Method {request.method} is not allowed here.")
        raise not_found(f"No emulated API at {request.path}.")

    def _send(self, reply: Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
        else:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        # A HEAD answer states the object's length (given in the reply's headers) and sends no body.
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload)), **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class Emulator:
    """IAM and IMS on 127.0.0.1; a context manager that starts and stops the server thread."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        clock: Clock | None = None,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        """``clock`` defaults to real time sped up ``speed`` times; pass a ``ManualClock`` to drive time."""
        self.config = config or EmulatorConfig()
        self.clock: Clock = clock or ScaledClock(speed)
        self.state = EmulatorState(self.config, self.clock)
        self.control = Control(self.state)
        self._address = (host, port)
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; return self."""
        if self._server is not None:
            raise RuntimeError("the emulator is running already")
        self.state.stopping.clear()
        server = _Server(self._address, self.state, self.control, self._verbose)
        host, port = server.server_address[:2]
        self.state.base_url = f"http://{host!s}:{port}"
        self._server = server
        # A short poll interval makes stop() quick, which matters for test suites.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="ims-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The IMS endpoint (and the root of everything else); set once started."""
        if not self.state.base_url:
            raise RuntimeError("the emulator is not started")
        return self.state.base_url

    @property
    def ims_url(self) -> str:
        return self.base_url

    @property
    def iam_url(self) -> str:
        return f"{self.base_url}/v3"

    @property
    def obs_url(self) -> str:
        """The OBS endpoint, addressed path-style (``/{bucket}/{key}``)."""
        return self.base_url

    @property
    def project_id(self) -> str:
        return self.config.project_id

    def __repr__(self) -> str:
        return f"Emulator(url={self.state.base_url or 'not started'}, clock={self.clock!r})"
