"""Heartbeats during real waits, the closing sentence and the lines of an interrupted or abandoned run."""

from __future__ import annotations

import io
import threading

import pytest

from localdev.watch import RunInterrupted, RunWatch, closing_sentence, duration

JOB = {"job_id": "8a2c", "image_id": "img-1", "status": "RUNNING", "percent": 37.5, "bucket_url": "b:o.qcow2"}


def test_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (4.4, 75, 3725)] == ["4s", "1m 15s", "1h 02m 05s"]


def test_a_real_wait_prints_heartbeats_with_elapsed_percent_and_next_poll() -> None:
    stream = io.StringIO()
    watch = RunWatch(stream, heartbeat_seconds=0.01)
    watch.saw_job(JOB)

    watch.real_wait(1.0)

    lines = stream.getvalue().splitlines()
    assert lines
    assert all(
        line.startswith("  .. ") and ", job 8a2c RUNNING 37.5 %, next poll in " in line for line in lines
    )


def test_a_cancelled_wait_raises_at_once() -> None:
    watch = RunWatch(io.StringIO(), heartbeat_seconds=600)
    threading.Timer(0.05, watch.cancel).start()

    with pytest.raises(RunInterrupted):
        watch.real_wait(3600)  # a hang guard would catch a wait that ignored the cancel


def test_interrupted_real_cloud_run_names_the_job_and_the_follow_command() -> None:
    watch = RunWatch(io.StringIO())
    watch.real_cloud = True
    watch.saw_job(JOB)

    assert watch.interrupted() == (
        "interrupted: export job 8a2c of image img-1 is still running in the cloud; "
        "follow it to its end with: make follow JOB=8a2c IMAGE=img-1 BUCKET_URL=b:o.qcow2"
    )
    watch.saw_job({**JOB, "status": "SUCCESS"})
    assert watch.interrupted() == "interrupted: no export job was running, nothing goes on in the cloud"


def test_closing_sentence_of_a_failure_before_the_export_names_the_event_image() -> None:
    output = {
        "status": "FAILED",
        "error": "AuthenticationError",
        "cause": {"error": "AuthenticationError", "cause": '{"errorMessage": "IAM.0011: wrong password"}'},
    }

    sentence = closing_sentence("FAILED", output, image_id="img-9")

    assert sentence == (
        "export of image img-9 failed: AuthenticationError: IAM.0011: wrong password; "
        "check the user name, password and domain (OS_* variables or clouds.yaml)"
    )


def test_the_closing_line_stays_one_printable_line() -> None:
    from localdev.watch import one_line

    assert one_line("export of image abc\n\x1b[31mfailed\r\tnow") == "export of image abc [31mfailed now"


def test_interrupted_fleet_names_every_running_child_job() -> None:
    watch = RunWatch(io.StringIO())
    watch.real_cloud = True
    second = {**JOB, "job_id": "9b3d", "image_id": "img-2", "bucket_url": "b:p.qcow2"}
    watch.saw_job(JOB, child=True)
    watch.saw_job(second, child=True)
    watch.saw_job({**JOB, "job_id": "0000", "status": "SUCCESS"}, child=True)

    assert watch.interrupted() == (
        "interrupted: 2 export jobs are still running in the cloud; follow each: "
        "make follow JOB=8a2c IMAGE=img-1 BUCKET_URL=b:o.qcow2; "
        "make follow JOB=9b3d IMAGE=img-2 BUCKET_URL=b:p.qcow2"
    )
    watch.saw_job({**second, "status": "FAIL"}, child=True)
    assert watch.interrupted().startswith("interrupted: export job 8a2c of image img-1 is still running")
