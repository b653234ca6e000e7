"""The wiring command end to end: through its CLI against the emulator (plan, apply, an empty second plan,
the subscription confirmed as SMN's endpoint would, OBS's test notification delivered, undo), bad inputs
refused before any call, and the make target's variables."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import responses

from ims_export.domain.obs_notifications import parse_obs_notification
from localdev.emulator import Emulator
from localdev.emulator.config import EmulatorConfig
from localdev.wiring.cli import run, switches
from localdev.wiring.inputs import fixed_prefix

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "http://127.0.0.1:9/smn"  # the stack's endpoint, as the emulator allows it (never called)
PASSWORD = "emulator-password"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(seed_images=False)) as running:
        yield running


# A cloud on a closed port: an input refused before any call never reaches it.
EMULATOR_FREE_ENVIRON = {
    "OS_AUTH_URL": "http://127.0.0.1:9/v3",
    "OS_USERNAME": "ims-export",
    "OS_PASSWORD": PASSWORD,
    "OS_USER_DOMAIN_NAME": "OTC-EU-DE-00000000001000000001",
    "OS_PROJECT_NAME": "eu-de",
    "OS_REGION_NAME": "eu-de",
    "OBS_ENDPOINT": "http://127.0.0.1:9",
    "SMN_API_ENDPOINT": "http://127.0.0.1:9",
    "EXPORT_BUCKET": "ims-export-demo",
}


def environment(emulator: Emulator, **extra: str) -> dict[str, str]:
    return {
        "OS_AUTH_URL": emulator.iam_url,
        "OS_USERNAME": "ims-export",
        "OS_PASSWORD": PASSWORD,
        "OS_USER_DOMAIN_NAME": "OTC-EU-DE-00000000001000000001",
        "OS_PROJECT_NAME": "eu-de",
        "OS_REGION_NAME": "eu-de",
        "OBS_ENDPOINT": emulator.obs_url,
        "SMN_API_ENDPOINT": emulator.base_url,
        "EXPORT_BUCKET": "ims-export-demo",
        **extra,
    }


def command(environ: dict[str, str], *arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run([f"--smn-endpoint={ENDPOINT}", *arguments], environ, out, err)
    assert PASSWORD not in out.getvalue() + err.getvalue()
    assert "MII" not in out.getvalue() + err.getvalue()  # no IAM token
    return code, out.getvalue(), err.getvalue()


def changes(output: str, sign: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"  {sign} ")]


def test_plan_apply_then_nothing_to_change_then_undo(emulator: Emulator) -> None:
    environ = environment(emulator)

    code, planned, _ = command(environ)
    assert code == 0 and len(changes(planned, "+")) == 4, planned
    assert "nothing changed: give APPLY=1" in planned
    code, _, _ = command(environ)  # a plan changes nothing: the same four again
    assert len(changes(command(environ)[1], "+")) == 4

    code, applied, err = command(environ, "--apply")
    assert code == 0, err
    assert "4 change(s) made" in applied

    code, again, _ = command(environ)
    assert code == 0 and changes(again, "+") == [] and "nothing to change" in again
    assert "not confirmed yet" in again

    # SMN's confirmation reaches the stack's endpoint, which GETs its subscribe_url.
    (confirmation,) = emulator.control.smn_messages()
    assert (confirmation["type"], confirmation["endpoint"]) == ("SubscriptionConfirmation", ENDPOINT)
    subscribe_url = json.loads(confirmation["body"])["subscribe_url"]
    assert urlsplit(subscribe_url).netloc == urlsplit(emulator.base_url).netloc
    requests.get(subscribe_url, timeout=5).raise_for_status()
    assert ", confirmed" in command(environ)[1]

    code, undo_plan, _ = command(environ, "--undo")
    assert code == 0 and len(changes(undo_plan, "-")) == 1  # the bucket's notification only
    code, undo_all_plan, _ = command(environ, "--undo=all")
    assert code == 0 and len(changes(undo_all_plan, "-")) == 4
    code, undone, _ = command(environ, "--undo=all", "--apply=yes")
    assert code == 0 and "4 change(s) made" in undone
    assert "nothing to change" in command(environ, "--undo=all")[1]
    assert len(changes(command(environ)[1], "+")) == 4  # back to an empty cloud


def test_apply_and_undo_read_every_switch_word_as_make_run_s_verbose_does() -> None:
    assert switches("on", "") == (True, None)
    assert switches("no", "YES") == (False, "bucket")
    assert switches("", " All ") == (False, "all")
    assert switches("false", "off") == (False, None)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [(("--apply=maybe",), "APPLY='maybe'"), (("--undo=everything",), "UNDO='everything'")],
)
def test_a_switch_with_another_value_is_refused_before_any_call(
    arguments: tuple[str, ...], named: str
) -> None:
    code, out, err = command(dict(EMULATOR_FREE_ENVIRON), *arguments)
    assert code == 2 and named in err and out == ""


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.2:9\\@127.0.0.1",
        "http://user@127.0.0.1:9",
        "http://127.0.0.1:9/?x=1",
        "http://127.0.0.1:x",
    ],
)
def test_an_api_endpoint_that_hosts_read_differently_is_refused(endpoint: str) -> None:
    code, _, err = command({**EMULATOR_FREE_ENVIRON, "SMN_API_ENDPOINT": endpoint})
    assert code == 2 and "SMN_API_ENDPOINT" in err


def test_obs_sends_its_test_notification_to_a_confirmed_subscription(emulator: Emulator) -> None:
    environ = environment(emulator)
    assert command(environ, "--apply")[0] == 0
    confirmation = json.loads(emulator.control.smn_messages()[0]["body"])
    requests.get(confirmation["subscribe_url"], timeout=5).raise_for_status()

    # Setting the notification again (another pattern) makes OBS send its test notification.
    code, _, err = command({**environ, "EXPORT_OBJECT_PATTERN": "images/{image_id}.{format}"}, "--apply")

    assert code == 0, err
    notification = emulator.control.smn_messages()[-1]
    assert notification["type"] == "Notification"
    assert parse_obs_notification(json.loads(notification["body"])["message"]).is_test


def test_bad_inputs_are_refused_before_any_call() -> None:
    environ = {
        "OS_AUTH_URL": "https://iam.eu-de.otc.t-systems.com/v3",
        "OS_USERNAME": "u",
        "OS_PASSWORD": "p",
    }
    environ |= {"OS_USER_DOMAIN_NAME": "d", "OS_REGION_NAME": "eu-de", "EXPORT_BUCKET": "exports-bucket"}
    refused = {
        "no endpoint": ([], environ, "SMN_ENDPOINT is not set"),
        "plain http": (["--smn-endpoint=http://example.com/smn"], environ, "must be an https:// URL"),
        "not a URL": (["--smn-endpoint=smn-endpoint"], environ, "must be an https:// URL"),
        "no bucket": (
            ["--smn-endpoint=https://x.example/smn"],
            {**environ, "EXPORT_BUCKET": ""},
            "EXPORT_BUCKET",
        ),
        "bad pattern": (
            ["--smn-endpoint=https://x.example/smn"],
            {**environ, "EXPORT_OBJECT_PATTERN": "exports/{nope}"},
            "EXPORT_OBJECT_PATTERN",
        ),
        "bad topic": (["--smn-endpoint=https://x.example/smn", "--topic=-x"], environ, "TOPIC '-x'"),
        "no region": (
            ["--smn-endpoint=https://x.example/smn"],
            {name: value for name, value in environ.items() if name != "OS_REGION_NAME"},
            "no region",
        ),
    }
    for name, (arguments, variables, message) in refused.items():
        out, err = io.StringIO(), io.StringIO()
        with responses.RequestsMock() as cloud:  # any request would fail the test
            code = run(arguments, variables, out, err)
            assert len(cloud.calls) == 0, name
        assert code == 2, name
        assert message in err.getvalue(), (name, err.getvalue())
        assert out.getvalue() == "", name


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("exports/{image_name}-{image_id}-{date}.{format}", "exports/"),
        ("{image_id}.{format}", ""),
        ("a/{{literal}}/{image_id}", "a/{literal}/"),
        ("fixed-name.qcow2", "fixed-name.qcow2"),
    ],
)
def test_the_prefix_is_the_fixed_start_of_the_pattern(pattern: str, prefix: str) -> None:
    assert fixed_prefix(pattern) == prefix


def make(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(  # noqa: S603 (make from PATH, as a person runs it)
        ["make", "--no-print-directory", *arguments],  # noqa: S607
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("wire-notifications", "EVENT=events/manual.json"), "EVENT is not read by make wire-notifications"),
        (("run", "APPLY=1"), "APPLY is read by make wire-notifications only"),
        (
            ("follow", "SMN_ENDPOINT=https://x.example/smn"),
            "SMN_ENDPOINT is read by make wire-notifications only",
        ),
    ],
)
def test_make_refuses_variables_the_goal_does_not_read(arguments: tuple[str, ...], message: str) -> None:
    completed = make(*arguments)

    assert completed.returncode == 2
    assert message in completed.stderr


def test_make_help_lists_the_target() -> None:
    assert "make wire-notifications" in make("help").stdout
