"""``python -m localdev.emulator`` as a separate process, and the server's own housekeeping."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from localdev.emulator import Emulator, ManualClock, seed
from localdev.emulator.__main__ import READY_PREFIX
from localdev.emulator.request import Request
from tests.emulator.conftest import CloudClient

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_standalone_prints_its_url_and_serves_until_stopped(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("standalone-secret\n")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "localdev.emulator",
            "--port",
            "0",
            "--speed",
            "50",
            "--password-file",
            str(password_file),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith(READY_PREFIX), line
        base_url = line.removeprefix(READY_PREFIX)
        assert base_url.startswith("http://127.0.0.1:")

        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "ims-export",
                            "password": "standalone-secret",
                            "domain": {"name": "OTC-EU-DE-00000000001000000001"},
                        }
                    },
                },
                "scope": {"project": {"name": "eu-de"}},
            }
        }
        token = requests.post(f"{base_url}/v3/auth/tokens", json=body, timeout=5)
        assert token.status_code == 201
        images = requests.get(
            f"{base_url}/v2/cloudimages",
            params={"id": seed.DEBIAN_SMALL},
            headers={"X-Auth-Token": token.headers["X-Subject-Token"]},
            timeout=5,
        )
        assert [image["name"] for image in images.json()["images"]] == ["debian-12-web"]
        assert requests.get(f"{base_url}/_emulator/clock", timeout=5).json()["manual"] is False
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "standalone-secret" not in stderr


def test_verbose_log_shows_request_lines_but_no_token(
    clock: ManualClock, capfd: pytest.CaptureFixture[str]
) -> None:
    with Emulator(clock=clock, verbose=True) as emulator:
        client = CloudClient(emulator)
        token = client.login()
        client.images()
    logged = capfd.readouterr().err
    assert "GET /v2/cloudimages" in logged
    assert token not in logged and token[:30] not in logged


def test_stop_frees_the_port_and_a_second_start_is_refused(clock: ManualClock) -> None:
    emulator = Emulator(clock=clock).start()
    with pytest.raises(RuntimeError):
        emulator.start()
    base_url = emulator.base_url
    emulator.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/_emulator/health", timeout=1)


def test_urls_before_start_are_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = Emulator().base_url


def test_unknown_api_path_and_wrong_method(client: CloudClient) -> None:
    assert client.session.get(f"{client.emulator.base_url}/v1/unknown", timeout=5).status_code == 404
    wrong_method = client.session.get(f"{client.emulator.iam_url}/auth/tokens", timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == 405


def test_request_repr_hides_headers_and_body() -> None:
    request = Request("POST", "/v3/auth/tokens", headers={"x-auth-token": "MIIsecret"}, body=b'{"pw"}')
    assert "MIIsecret" not in repr(request)
    assert "pw" not in repr(request)


def test_malformed_content_length_gets_400(emulator: Emulator) -> None:
    host, port = emulator.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.1 400")


def _standalone(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "localdev.emulator", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard: a refusal ends at once
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--speed", "-1"), "argument --speed: -1: emulated seconds per real second must be above 0"),
        (("--speed", "fast"), "argument --speed: 'fast' is not a number"),
        (("--port", "70000"), "argument --port: 70000: give 0 (any free port) to 65535"),
        (("--token-size", "5"), "token_size must be between 1000 and 20000 characters"),
        (("--password-file", "/nonexistent/password"), "--password-file: No such file or directory"),
    ],
)
def test_bad_arguments_end_in_one_line_and_exit_2(arguments: tuple[str, ...], message: str) -> None:
    completed = _standalone(*arguments)

    assert completed.returncode == 2
    assert completed.stdout == ""
    (line,) = completed.stderr.splitlines()
    assert line.startswith("python -m localdev.emulator: error: ")
    assert message in line


def test_a_port_in_use_ends_in_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        completed = _standalone("--port", str(port))

    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert line.startswith(f"python -m localdev.emulator: error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in completed.stderr
