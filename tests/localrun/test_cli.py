"""``make run`` and ``make follow`` as a person uses them: every exit code (0, 1, 2, 124, 130), bad
arguments, heartbeats, Ctrl-C and picking the interrupted export up again, plain runs that show the
runner's own lines only, and earlier exports to watch retention; one closing line on stderr, never a
traceback.

GNU make ends with 2 whenever a command fails: the runner's own code is in make's last line
(``Error 1``) and is the exit status of ``python -m localdev.run``, tested here too (130 only there:
Ctrl-C stops make as well, which then reports the signal).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from localdev.emulator import EmulatorConfig, seed
from localdev.runner.emulator_demo import earlier_exports_step
from localdev.runner.errors import RunError
from localdev.runner.targets import CloudTarget
from tests.localrun.conftest import ROOT, emulator_process, os_variables, runner_process
from tests.result_schema import assert_valid_result

pytestmark = pytest.mark.slow

HANG_GUARD_SECONDS = 900  # no budget: only a hung run fails on it
MAKE_FAILED = 2  # GNU make's status for any failed command
JOB_LINE = re.compile(r"     job ([0-9a-f]+) (INIT|RUNNING) progress")
HEARTBEAT = re.compile(
    r"^  \.\. (\d+s|\d+m \d\ds) elapsed, job [0-9a-f]+ (INIT|RUNNING) [^,]+, next poll in (\d+s|\d+m \d\ds)$"
)


def make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = env or {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    return subprocess.run(  # noqa: S603 (make from PATH, as a person runs it)
        ["make", "--no-print-directory", *arguments],  # noqa: S607
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )


def runner_lines(completed: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without make's own closing ``make: *** ...`` line."""
    return [line for line in completed.stderr.splitlines() if not line.startswith("make: ")]


def ending(stdout: str, status: str) -> dict[str, object]:
    """The one result document of stdout, of this ending (docs/result.schema.json)."""
    document: dict[str, object] = json.loads(stdout)
    assert_valid_result(document)
    assert document["status"] == status, document
    return document


def assert_no_traceback(completed: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in completed.stderr
    assert "Traceback" not in completed.stdout


def test_make_run_succeeds_with_exit_0_and_a_closing_sentence_naming_the_verified_object() -> None:
    completed = make("run")

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    exported = output["object"]
    assert exported["verification"] == "verified"
    assert exported["size_bytes"] > 0
    assert exported["url"].endswith("/" + output["bucket_url"].replace(":", "/", 1))
    last = completed.stderr.splitlines()[-1]
    assert last == (
        f"exported image {output['image_id']} ({output['image_name']}) to {output['bucket_url']} "
        f"in {last.split(' in ', 1)[1].split(' with ')[0]} with {output['polls']} polls; "
        f"object verified, {exported['size_bytes']} bytes at {exported['url']}"
    )
    assert_no_traceback(completed)


def test_make_run_of_a_failing_export_reports_the_runners_exit_1() -> None:
    completed = make("run", "EVENT=events/export-failing.json")

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 1$", completed.stderr, re.MULTILINE)
    assert json.loads(completed.stdout)["error"] == "ExportJobFailed"
    assert runner_lines(completed)[-1].startswith(f"export of image {seed.FAILING} (flaky-export-test) to ")
    assert_no_traceback(completed)


def test_make_run_refuses_an_event_no_rule_matches_with_exit_2(tmp_path: Path) -> None:
    event = tmp_path / "ec2.json"
    event.write_text(json.dumps({"source": "aws.ec2", "detail-type": "X", "detail": {}}), encoding="utf-8")

    completed = make("run", f"EVENT={event}")

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 2$", completed.stderr, re.MULTILINE)
    assert ending(completed.stdout, "REFUSED")["stage"] == "run"
    (line,) = runner_lines(completed)
    assert line.startswith("refused: no EventBridgeRule of the state machine matches this event")
    assert "rules listen to ImageCreated: source ims-export.images with detail-type Image Created" in line
    assert_no_traceback(completed)


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("TIMEOUT=soon", "error: TIMEOUT (argument --timeout): 'soon' is not a number of seconds"),
        ("HEARTBEAT=0", "error: HEARTBEAT (argument --heartbeat): '0': give a number of seconds above 0"),
        ("EARLIER_EXPORTS=x", "error: EARLIER_EXPORTS (argument --earlier-exports): 'x' is not a whole"),
    ],
)
def test_a_bad_make_variable_is_one_line_and_exit_2(variable: str, message: str) -> None:
    completed = make("run", variable)

    assert completed.returncode == MAKE_FAILED
    (line,) = runner_lines(completed)
    assert line.startswith(message)
    assert ending(completed.stdout, "REFUSED")["message"] == line
    assert_no_traceback(completed)


def test_runner_exit_codes_are_its_own_without_make(tmp_path: Path) -> None:
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}

    def runner(*arguments: str) -> int:
        return runner_process(*arguments, env=environment).returncode

    assert runner("--event", "events/manual.json") == 0
    assert runner("--event", "events/export-failing.json") == 1
    assert runner("--event", str(tmp_path / "missing.json")) == 2
    assert runner("--follow", "4a3b2c1d") == 2  # following needs the real cloud


def test_make_follow_without_a_job_is_refused(tmp_path: Path) -> None:
    completed = make("follow", env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})

    assert completed.returncode == MAKE_FAILED
    assert runner_lines(completed) == [
        "refused: make follow needs JOB=<job id> (the id a run printed, or the console shows)"
    ]


def test_a_real_wait_shows_heartbeats_and_a_missing_bucket_names_its_setting(tmp_path: Path) -> None:
    with emulator_process(speed=20) as url:
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "3", "POLL_MAX_SECONDS": "3"}

        completed = make("run", "HEARTBEAT=1", env=environment)
        no_bucket = make("run", "EVENT=events/image-created.json", env=environment)

    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    heartbeats = [line for line in lines if line.startswith("  .. ")]
    assert heartbeats, completed.stderr
    assert all(HEARTBEAT.match(line) for line in heartbeats), heartbeats
    assert lines[-1].startswith(f"exported image {seed.DEBIAN_SMALL} (debian-12-web) to ")

    assert no_bucket.returncode == MAKE_FAILED
    (line,) = runner_lines(no_bucket)
    assert line == (
        "refused: no bucket to export to: the event has no bucket_url and ExportBucket is empty; "
        "set EXPORT_BUCKET=<bucket> (make run) or the ExportBucket parameter (sam deploy)"
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_names_the_running_job_and_make_follow_takes_it_to_its_end(tmp_path: Path) -> None:
    # The emulator's time stands still until the test moves it: the job runs until Ctrl-C however loaded
    # the machine is, and is over for make follow's first poll, without waiting for it in real time.
    with emulator_process(speed=1, manual_clock=True) as url:
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "1", "POLL_MAX_SECONDS": "1"}
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],  # noqa: S607 (make from PATH)
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            # A suite started in the background (a CI runner, nohup) inherits SIGINT ignored, and Python
            # then never raises KeyboardInterrupt: give the run the default disposition a terminal gives.
            preexec_fn=_default_sigint,  # noqa: PLW1509 - only resets a signal disposition
        )
        assert process.stderr is not None
        job_id = None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            if match := JOB_LINE.search(line):
                job_id = match.group(1)
                break
        assert job_id is not None, "".join(seen)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, rest = process.communicate(timeout=HANG_GUARD_SECONDS)
        interrupted = "".join(seen) + rest
        requests.post(
            f"{url}/_emulator/clock/advance", json={"seconds": 3600}, timeout=HANG_GUARD_SECONDS
        ).raise_for_status()

        followed = make(
            "follow",
            f"JOB={job_id}",
            "BUCKET_URL=ims-export-demo:exports/manual-export.qcow2",
            env={**environment, "POLL_MIN_SECONDS": "2", "POLL_MAX_SECONDS": "5"},
        )

    assert process.returncode != 0
    assert ending(stdout, "INTERRUPTED")["job_id"] == job_id
    assert "Traceback" not in interrupted
    closing = [line for line in interrupted.splitlines() if not line.startswith("make: ")][-1]
    assert closing == (
        f"interrupted: export job {job_id} of image {seed.DEBIAN_SMALL} is still running in the cloud; "
        f"follow it to its end with: make follow JOB={job_id} IMAGE={seed.DEBIAN_SMALL} "
        "BUCKET_URL=ims-export-demo:exports/manual-export.qcow2"
    )

    assert followed.returncode == 0, followed.stderr
    output = json.loads(followed.stdout)
    assert (output["status"], output["job_id"], output["image_id"]) == (
        "SUCCEEDED",
        job_id,
        seed.DEBIAN_SMALL,
    )
    assert f"event routed by follow job {job_id}" in followed.stderr
    assert followed.stderr.splitlines()[-1].startswith(
        f"exported image {seed.DEBIAN_SMALL} (debian-12-web) to "
        "ims-export-demo:exports/manual-export.qcow2 in "
    )


def test_timeout_gives_up_waiting_and_says_how_to_follow(tmp_path: Path) -> None:
    with emulator_process(speed=1) as url:
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "60", "POLL_MAX_SECONDS": "60"}
        completed = runner_process("--timeout", "10", env=environment)

    assert completed.returncode == 124
    last = completed.stderr.splitlines()[-1]
    seen = JOB_LINE.search(completed.stderr)
    if seen is None:  # a slow machine: the start step had not handed on its job yet
        assert last == (
            f"gave up after 10s (TIMEOUT): no export job of image {seed.DEBIAN_SMALL} had started, so "
            "nothing runs on in IMS unless its start call was under way: check the image's export tasks "
            "in the IMS console, or run again with a larger TIMEOUT (or none)"
        )
    else:
        assert last.startswith(
            f"gave up after 10s (TIMEOUT): export job {seen.group(1)} of image {seed.DEBIAN_SMALL} "
            "(debian-12-web) to ims-export-demo:exports/manual-export.qcow2 is still "
        )
        assert last.endswith(
            f"; it goes on in IMS: follow it with make follow JOB={seen.group(1)} IMAGE={seed.DEBIAN_SMALL} "
            "BUCKET_URL=ims-export-demo:exports/manual-export.qcow2"
        )
    assert_no_traceback(completed)


UNSIGNED_SMN_BODY = {"type": "Notification", "message": "{}"}
SMN_TOPIC = "urn:smn:eu-de:0a41aaaabbbbccccddddeeeeffff0000:image-events"


def _json_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("{")]


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_a_refused_smn_delivery_exits_2_and_shows_function_logs_only_when_verbose(
    tmp_path: Path, verbose: bool
) -> None:
    body = tmp_path / "unsigned.json"
    body.write_text(json.dumps(UNSIGNED_SMN_BODY), encoding="utf-8")
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SMN_ALLOWED_TOPIC_URNS": SMN_TOPIC}

    completed = make("run", "VIA=smn", f"EVENT={body}", *(["VERBOSE=1"] if verbose else []), env=environment)

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 2$", completed.stderr, re.MULTILINE)
    assert json.loads(completed.stdout)["status"] == "REFUSED"
    assert runner_lines(completed)[-1].startswith(
        "refused, nothing exported: SmnMessageRefusedError: ValidationError: SMN delivery refused: "
    )
    records = [json.loads(line) for line in _json_lines(completed.stderr)]
    if verbose:  # the start function's warning, as Lambda would log it
        warning = {"level": "WARNING", "message": "SMN delivery refused"}.items()
        assert any(warning <= record.items() for record in records), completed.stderr
    else:
        assert records == []
    assert_no_traceback(completed)


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_the_layers_warnings_are_function_logs_too(tmp_path: Path, verbose: bool) -> None:
    # Nothing listens on port 9 (discard): the check step cannot verify the object and logs why.
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OBS_ENDPOINT": "http://127.0.0.1:9"}

    completed = make("run", *(["VERBOSE=1"] if verbose else []), env=environment)

    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    assert "; object unverified: " in lines[-1]
    logged = [line for line in lines[:-1] if "the exported object could not be verified" in line]
    assert bool(logged) is verbose, completed.stderr
    if not verbose:
        assert _json_lines(completed.stderr) == []
    assert_no_traceback(completed)


PLANTED_LINE = re.compile(
    r"^emulator: (\d+) earlier exports of image (\S+) put into OBS, oldest first: (.+)$"
)


def test_earlier_exports_let_a_run_show_retention_deleting(tmp_path: Path) -> None:
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RETENTION_COUNT": "2"}

    completed = make("run", "EVENT=events/image-created.json", "EARLIER_EXPORTS=4", env=environment)

    assert completed.returncode == 0, completed.stderr
    [planted_line] = [match for line in completed.stderr.splitlines() if (match := PLANTED_LINE.match(line))]
    assert (planted_line.group(1), planted_line.group(2)) == ("4", seed.CENTOS_APP_BASE)
    planted = planted_line.group(3).split(", ")
    output = json.loads(completed.stdout)
    bucket, new_key = output["bucket_url"].split(":", 1)
    assert all(url.startswith(f"{bucket}:exports/app-server-base-{seed.CENTOS_APP_BASE}-") for url in planted)
    assert new_key not in planted and sorted(planted) == planted  # older by name, oldest first
    # The newest 2 stay: the new export and the newest planted one.
    assert output["retention"]["deleted"] == [url.split(":", 1)[1] for url in planted[:3]]
    assert completed.stderr.splitlines()[-1].endswith("; retention deleted 3 older exports")
    assert_no_traceback(completed)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            ["EARLIER_EXPORTS=2"],  # events/manual.json names its object
            "refused: EARLIER_EXPORTS: the event names its own object "
            "(ims-export-demo:exports/manual-export.qcow2), and retention retires only exports named by "
            "EXPORT_OBJECT_PATTERN: use an event without bucket_url, such as events/image-created.json",
        ),
        (
            ["EARLIER_EXPORTS=2", "EVENT=events/fleet/schedule.json"],
            "refused: EARLIER_EXPORTS needs an event that names one image (image_id), not a fleet",
        ),
        (
            [
                "EARLIER_EXPORTS=2",
                "EVENT=events/image-created.json",
                "EXPORT_OBJECT_PATTERN=exports/{image_name}.{format}",
            ],
            "refused: EARLIER_EXPORTS needs an EXPORT_OBJECT_PATTERN with {date} or {timestamp} "
            "(exports a day apart must get distinct names) and {image_id} (retention retires only names "
            "carrying the image id); 'exports/{image_name}.{format}' has not",
        ),
        (
            [
                "EARLIER_EXPORTS=2",
                "EVENT=events/image-created.json",
                "EXPORT_OBJECT_PATTERN=exports/{image_id}-{time}.{format}",
            ],
            "refused: EARLIER_EXPORTS needs an EXPORT_OBJECT_PATTERN with {date} or {timestamp} "
            "(exports a day apart must get distinct names); 'exports/{image_id}-{time}.{format}' has not",
        ),
        (
            ["EARLIER_EXPORTS=many"],
            "error: EARLIER_EXPORTS (argument --earlier-exports): 'many' is not a whole number",
        ),
    ],
    ids=["own-object", "fleet", "pattern-without-date-or-image-id", "pattern-with-time-only", "not-a-number"],
)
def test_earlier_exports_that_cannot_apply_are_refused_with_exit_2(
    variables: list[str], message: str
) -> None:
    completed = make("run", *variables)

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 2$", completed.stderr, re.MULTILINE)
    assert runner_lines(completed)[-1].startswith(message)
    ending(completed.stdout, "REFUSED")
    assert "execution arn:" not in completed.stderr
    assert "emulator: " not in completed.stderr  # nothing planted
    assert_no_traceback(completed)


def test_earlier_exports_are_refused_for_the_real_cloud() -> None:
    real_cloud = CloudTarget("real cloud", {}, {}, on_wait=lambda seconds: None, secrets=())

    with pytest.raises(RunError, match="EARLIER_EXPORTS puts objects into the built-in emulator's OBS only"):
        earlier_exports_step(2, {"image_id": seed.DEBIAN_SMALL}, real_cloud)
    assert earlier_exports_step(0, {"image_id": seed.DEBIAN_SMALL}, real_cloud) is None


def start_export_job(emulator_url: str, image_id: str, bucket_url: str) -> str:
    """An export job started as another tool (or an interrupted run) would: straight at IMS."""
    config = EmulatorConfig()
    user = {
        "name": config.user_name,
        "password": config.user_password,
        "domain": {"name": config.domain_name},
    }
    issued = requests.post(
        f"{emulator_url}/v3/auth/tokens",
        json={
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": config.project_name}},
            }
        },
        timeout=HANG_GUARD_SECONDS,
    )
    issued.raise_for_status()
    started = requests.post(
        f"{emulator_url}/v1/cloudimages/{image_id}/file",
        json={"bucket_url": bucket_url, "file_format": "qcow2"},
        headers={"X-Auth-Token": issued.headers["X-Subject-Token"]},
        timeout=HANG_GUARD_SECONDS,
    )
    started.raise_for_status()
    return str(started.json()["job_id"])


FAILING_TARGET = "ims-export-demo:exports/flaky-export-test.qcow2"


def test_make_follow_of_a_job_that_fails_shows_heartbeats_and_reports_the_runners_exit_1(
    tmp_path: Path,
) -> None:
    # The emulated clock stands still until the follow has shown a heartbeat; then it jumps past the
    # job's failure (at 40 %, after about 35 emulated seconds). However slowly a loaded machine starts
    # the runner, the job is still running when the follow begins.
    with emulator_process(speed=1, manual_clock=True) as url:
        job_id = start_export_job(url, seed.FAILING, FAILING_TARGET)
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "3", "POLL_MAX_SECONDS": "3"}
        process = subprocess.Popen(  # noqa: S603 (make from PATH, as a person runs it)
            [  # noqa: S607
                "make",
                "--no-print-directory",
                "follow",
                f"JOB={job_id}",
                f"BUCKET_URL={FAILING_TARGET}",
                "HEARTBEAT=1",
                # Without a heartbeat the clock never moves: the follow then gives up, and the test fails.
                f"TIMEOUT={HANG_GUARD_SECONDS:.0f}",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith("  .. "):
                break
        advanced = requests.post(
            f"{url}/_emulator/clock/advance", json={"seconds": 120}, timeout=HANG_GUARD_SECONDS
        )
        advanced.raise_for_status()
        stdout, rest = process.communicate(timeout=HANG_GUARD_SECONDS)
    completed = subprocess.CompletedProcess(process.args, process.returncode, stdout, "".join(seen) + rest)

    assert completed.returncode == MAKE_FAILED, completed.stderr
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: follow\] Error 1$", completed.stderr, re.MULTILINE)
    output = json.loads(completed.stdout)
    assert (output["error"], output["job_id"], output["image_id"]) == (
        "ExportJobFailed",
        job_id,
        seed.FAILING,
    )
    lines = runner_lines(completed)
    heartbeats = [line for line in lines if line.startswith("  .. ")]
    assert heartbeats, completed.stderr
    assert all(HEARTBEAT.match(line) for line in heartbeats), heartbeats
    assert lines[-1].startswith(
        f"export of image {seed.FAILING} (flaky-export-test) to {FAILING_TARGET} failed: "
    )
    assert_no_traceback(completed)


def test_make_follow_gives_up_at_its_timeout_with_exit_124_and_ctrl_c_ends_it_with_130(
    tmp_path: Path,
) -> None:
    with emulator_process(speed=0.5) as url:
        job_id = start_export_job(url, seed.DEBIAN_SMALL, "ims-export-demo:exports/followed.qcow2")
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "60", "POLL_MAX_SECONDS": "60"}
        gave_up = make("follow", f"JOB={job_id}", "TIMEOUT=3", env=environment)

        # The runner itself: make, interrupted too, reports the signal and not the runner's code.
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "localdev.run", "--follow", job_id],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_default_sigint,  # noqa: PLW1509 - only resets a signal disposition
        )
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:  # the first poll's line: the follow is under way
            seen.append(line)
            if JOB_LINE.search(line):
                break
        process.send_signal(signal.SIGINT)
        stdout, rest = process.communicate(timeout=HANG_GUARD_SECONDS)

    assert gave_up.returncode == MAKE_FAILED, gave_up.stderr
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: follow\] Error 124$", gave_up.stderr, re.MULTILINE)
    assert runner_lines(gave_up)[-1].startswith("gave up after 3s (TIMEOUT): ")
    assert_no_traceback(gave_up)

    assert process.returncode == 130
    assert ending(stdout, "INTERRUPTED")["job_id"] == job_id
    interrupted = "".join(seen) + rest
    assert "Traceback" not in interrupted
    assert interrupted.splitlines()[-1].startswith(
        f"interrupted: export job {job_id} of image {seed.DEBIAN_SMALL} is still running in the cloud; "
        f"follow it to its end with: make follow JOB={job_id} IMAGE={seed.DEBIAN_SMALL}"
    )


def test_a_bad_make_follow_variable_is_one_line_and_exit_2() -> None:
    completed = make("follow", "JOB=4a3b2c1d", "TIMEOUT=-5")

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: follow\] Error 2$", completed.stderr, re.MULTILINE)
    (line,) = runner_lines(completed)
    assert line.startswith("error: TIMEOUT (argument --timeout): '-5': give a number of seconds above 0")
    ending(completed.stdout, "REFUSED")


def test_make_run_that_gives_up_reports_the_runners_exit_124() -> None:
    # Even the emulator's run takes longer than a hundredth of a second of real time.
    completed = make("run", "TIMEOUT=0.01")

    assert completed.returncode == MAKE_FAILED
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: run\] Error 124$", completed.stderr, re.MULTILINE)
    assert runner_lines(completed)[-1].startswith("gave up after 0s (TIMEOUT): ")
    ending(completed.stdout, "TIMED_OUT")
    assert_no_traceback(completed)


def test_sigterm_ends_the_run_with_its_document_and_what_goes_on_in_the_cloud(tmp_path: Path) -> None:
    # A CI job cancelled, `timeout`, `kill`: as Ctrl-C, with the status shells give SIGTERM.
    with emulator_process(speed=0.5) as url:
        environment = {**os_variables(url, tmp_path), "POLL_MIN_SECONDS": "1", "POLL_MAX_SECONDS": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "localdev.run"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        job_id = None
        for line in process.stderr:
            if match := JOB_LINE.search(line):
                job_id = match.group(1)
                break
        assert job_id is not None
        process.send_signal(signal.SIGTERM)
        stdout, rest = process.communicate(timeout=HANG_GUARD_SECONDS)

    assert process.returncode == 143
    assert ending(stdout, "INTERRUPTED")["job_id"] == job_id
    assert "Traceback" not in rest
    assert rest.splitlines()[-1].startswith(f"interrupted: export job {job_id} of image ")
