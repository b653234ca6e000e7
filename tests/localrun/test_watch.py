"""Heartbeats during real waits, the closing sentence and the lines of an interrupted or abandoned run."""

from __future__ import annotations

import io
import threading

import pytest

from localdev.runner.closing import closing_sentence
from localdev.runner.text import duration
from localdev.runner.watch import RunInterrupted, RunWatch

JOB = {"job_id": "8a2c", "image_id": "img-1", "status": "RUNNING", "percent": 37.5, "bucket_url": "b:o.qcow2"}


def test_durations_read_as_a_person_says_them() -> None:
    assert [duration(s) for s in (4, 12.4, 75, 3725)] == ["4s", "12s", "1m 15s", "1h 02m 05s"]
    # A TIMEOUT below a second or between whole ones reads as it was given, never as "0s".
    assert [duration(s) for s in (0.5, 4.4)] == ["0.5s", "4.4s"]


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
    output = {  # the outcome: the error, and its cause structured
        "status": "FAILED",
        "error": "AuthenticationError",
        "cause": {"errorType": "AuthenticationError", "errorMessage": "IAM.0011: wrong password"},
    }

    sentence = closing_sentence("FAILED", output, image_id="img-9")

    assert sentence == (
        "export of image img-9 failed: AuthenticationError: IAM.0011: wrong password; "
        "check the user name, password and domain (OS_* variables or clouds.yaml)"
    )


def test_closing_sentence_names_the_image_once_not_in_every_layer_of_the_message() -> None:
    image_id = "00000000-0000-4000-8000-000000000000"
    prefix = f"export of image {image_id} to b:o.qcow2 as qcow2"
    message = f"{prefix}: get image {image_id}: no such image in this project"
    output = {
        "status": "FAILED",
        "error": "ImageNotFoundError",
        "image_id": image_id,
        "bucket_url": "b:o.qcow2",
        "cause": {"errorType": "ImageNotFoundError", "errorMessage": message},
    }

    sentence = closing_sentence("FAILED", output)

    assert sentence.count(image_id) == 1
    assert sentence.startswith(
        f"export of image {image_id} to b:o.qcow2 failed: ImageNotFoundError: "
        "get the image: no such image in this project; "
    )


def test_the_closing_line_stays_one_printable_line() -> None:
    from localdev.runner.text import one_line

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


def test_giving_up_before_any_job_names_the_export_and_what_to_do() -> None:
    watch = RunWatch(io.StringIO())
    watch.image_id = "img-1"
    watch.saw_target("web", "b:o.qcow2")

    assert watch.gave_up(0.5) == (
        "gave up after 0.5s (TIMEOUT): no export job of image img-1 (web) to b:o.qcow2 had started; "
        "the emulator stops with this run: run again with a larger TIMEOUT (or none)"
    )
    watch.real_cloud = True
    assert watch.gave_up(8).startswith(
        "gave up after 8s (TIMEOUT): no export job of image img-1 (web) to b:o.qcow2 had started, so "
        "nothing runs on in IMS unless its start call was under way: check the image's export tasks"
    )


def test_no_heartbeat_claims_more_time_than_the_timeout() -> None:
    clock = [0.0]
    stream = io.StringIO()
    watch = RunWatch(stream, heartbeat_seconds=1, monotonic=lambda: clock[0])
    watch.timeout = 2

    def advance(seconds: float | None) -> bool:  # the wait's sleep, on a clock of our own
        clock[0] += seconds or 0.0
        return False

    watch._cancelled.wait = advance  # type: ignore[method-assign,assignment]
    watch.real_wait(5)

    elapsed = [line.split(" elapsed")[0] for line in stream.getvalue().splitlines()]
    assert elapsed == ["  .. 1s"]  # 2s and later would be past TIMEOUT: the run is giving up then


def test_closing_sentences_count_in_the_singular_and_never_double_their_punctuation() -> None:
    exported = {"status": "SUCCEEDED", "image_id": "img-1", "bucket_url": "b:o", "polls": 1}
    assert closing_sentence("SUCCEEDED", exported) == "exported image img-1 to b:o with 1 poll"

    refused = {"status": "REFUSED", "error": "SmnMessageRefusedError", "message": "it is unsigned."}
    sentence = closing_sentence("SUCCEEDED", refused)
    assert sentence.startswith("refused, nothing exported: SmnMessageRefusedError: it is unsigned; only ")


def test_progress_that_goes_down_is_shown_with_what_came_before() -> None:
    from localdev.runner.watch import ProgressMemory

    memory = ProgressMemory()
    shown = [memory.text({"job_id": "j", "percent": percent}) for percent in (10.0, 80.0, 47.7, 90.0)]

    assert shown[:2] == ["10.0 %", "80.0 %"]
    assert shown[2] == "47.7 % (IMS reports less than the 80.0 % before: its progress is a hint)"
    assert shown[3] == "90.0 %"
    assert memory.text({"job_id": "other", "percent": 5.0}) == "5.0 %"  # each job its own


def test_one_way_to_write_a_duration() -> None:
    from ims_export.clock import duration_text

    assert [duration_text(s) for s in (0.5, 53, 75, 7500, 837_996)] == [
        "0.5s",
        "53s",
        "1m 15s",
        "2h 05m 00s",
        "9d 16h 46m",
    ]
