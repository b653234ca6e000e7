"""Retention selection: only this image's exports by the configured pattern, the newest N kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ims_export.domain.naming import render_object_name
from ims_export.domain.objects import ObjectInfo
from ims_export.domain.retention import listing_prefix, name_expression, select_for_deletion
from ims_export.errors import ConfigurationError

PATTERN = "exports/{image_name}-{image_id}-{date}.{format}"
IMAGE_ID = "4f1c2a9e-7f9b-4a59-9a3e-2a8d1f0c5b6e"
OTHER_IMAGE_ID = "9a8b7c6d-1111-4222-8333-444455556666"
DAY = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)


def export(
    pattern: str, day: int, *, image_id: str = IMAGE_ID, name: str = "debian 12/web", extension: str = "qcow2"
) -> ObjectInfo:
    moment = DAY + timedelta(days=day)
    key = render_object_name(pattern, image_name=name, image_id=image_id, extension=extension, now=moment)
    return ObjectInfo(key=key, size_bytes=1, last_modified=moment + timedelta(minutes=20))


def keys(objects: list[ObjectInfo]) -> list[str]:
    return [item.key for item in objects]


def test_keeps_n_of_n_plus_3_and_touches_nothing_else() -> None:
    keep = 4
    ours = [export(PATTERN, day) for day in range(keep + 3)]  # the last one is the one just written
    other_image = [export(PATTERN, day, image_id=OTHER_IMAGE_ID) for day in range(5)]
    other_pattern = [export("exports/{image_id}/{timestamp}.{format}", day) for day in range(5)]
    strangers = [
        ObjectInfo(
            key=f"exports/notes-{IMAGE_ID}-20250101.txt", size_bytes=1
        ),  # not a format the pattern writes
        ObjectInfo(key=f"exports/x-{IMAGE_ID}-2025011.qcow2", size_bytes=1),  # a date of 7 digits
        ObjectInfo(key=f"exports/x-{IMAGE_ID}-20250101.qcow2.bak", size_bytes=1),
        ObjectInfo(key=f"exports/sub/dir-{IMAGE_ID}-20250101.qcow2", size_bytes=1),  # no '/' in an image name
        ObjectInfo(key=f"exports/x-{IMAGE_ID.upper()}-20250101.qcow2", size_bytes=1),
    ]
    listing = [*other_image, *ours[::-1], *other_pattern, *strangers]

    selected = select_for_deletion(PATTERN, IMAGE_ID, listing, keep=keep, just_written=ours[-1].key)

    assert keys(selected) == keys(ours[:3]), "the three oldest, oldest first"


def test_the_object_just_written_is_never_selected_and_counts_as_kept() -> None:
    ours = [export(PATTERN, day) for day in range(3)]
    # The new object is the oldest by its name (a clock went backwards): still never deleted.
    just_written = export(PATTERN, -5)

    selected = select_for_deletion(
        PATTERN, IMAGE_ID, [*ours, just_written], keep=1, just_written=just_written.key
    )
    assert keys(selected) == keys(ours)
    # Not listed yet (a listing may lag the write): it still takes one of the places.
    assert keys(select_for_deletion(PATTERN, IMAGE_ID, ours, keep=2, just_written=just_written.key)) == keys(
        ours[:2]
    )


def test_zero_keeps_everything() -> None:
    ours = [export(PATTERN, day) for day in range(5)]
    assert select_for_deletion(PATTERN, IMAGE_ID, ours, keep=0, just_written=ours[-1].key) == []


def test_fewer_than_n_deletes_nothing() -> None:
    ours = [export(PATTERN, day) for day in range(3)]
    assert select_for_deletion(PATTERN, IMAGE_ID, ours, keep=5, just_written=ours[-1].key) == []


def test_negative_count_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        select_for_deletion(PATTERN, IMAGE_ID, [], keep=-1, just_written="x")


def test_order_by_name_time_beats_last_modified() -> None:
    pattern = "backups/{image_id}/{timestamp}.{format}"
    ours = [export(pattern, day) for day in range(4)]
    # Copied back later: the newest last-modified, but the oldest name.
    restored = ours[0].model_copy(update={"last_modified": DAY + timedelta(days=30)})
    listing = [restored, *ours[1:]]

    selected = select_for_deletion(pattern, IMAGE_ID, listing, keep=2, just_written=ours[-1].key)
    assert keys(selected) == keys(ours[:2])


def test_without_time_fields_last_modified_orders() -> None:
    pattern = "exports/{image_id}/{image_name}.{format}"
    listing = [
        ObjectInfo(key=f"exports/{IMAGE_ID}/a.qcow2", size_bytes=1, last_modified=DAY + timedelta(days=3)),
        ObjectInfo(key=f"exports/{IMAGE_ID}/b.qcow2", size_bytes=1, last_modified=DAY + timedelta(days=1)),
        ObjectInfo(key=f"exports/{IMAGE_ID}/c.vmdk", size_bytes=1, last_modified=DAY + timedelta(days=2)),
        ObjectInfo(key=f"exports/{IMAGE_ID}/new.qcow2", size_bytes=1, last_modified=DAY + timedelta(days=4)),
    ]
    selected = select_for_deletion(
        pattern, IMAGE_ID, listing, keep=2, just_written=f"exports/{IMAGE_ID}/new.qcow2"
    )
    assert keys(selected) == [f"exports/{IMAGE_ID}/b.qcow2", f"exports/{IMAGE_ID}/c.vmdk"]


def test_date_and_time_fields_and_repeated_placeholders() -> None:
    pattern = "{date}/{image_id}-{date}T{time}.{format}"
    expression = name_expression(pattern, IMAGE_ID)
    assert expression.fullmatch(f"20250101/{IMAGE_ID}-20250101T030000.qcow2")
    assert not expression.fullmatch(f"20250101/{IMAGE_ID}-20250102T030000.qcow2"), "the same date twice"
    ours = [export(pattern, day) for day in range(3)]
    assert keys(select_for_deletion(pattern, IMAGE_ID, ours, keep=1, just_written=ours[-1].key)) == keys(
        ours[:2]
    )


def test_literal_parts_are_escaped_and_quick_exports_match() -> None:
    pattern = "ex.ports+(x)/{image_name}[{image_id}].{format}"
    expression = name_expression(pattern, IMAGE_ID)
    assert expression.fullmatch(f"ex.ports+(x)/web[{IMAGE_ID}].zvhd2")
    assert not expression.fullmatch(f"exXports+(x)/web[{IMAGE_ID}].zvhd2")
    assert not expression.fullmatch(f"ex.portsx/web[{IMAGE_ID}].qcow2")


def test_shortened_image_names_still_match() -> None:
    long_name = "n" * 200
    item = export(PATTERN, 0, name=long_name)
    assert len(item.key) <= 128
    assert name_expression(PATTERN, IMAGE_ID).fullmatch(item.key)


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        (PATTERN, "exports/"),
        ("{image_id}/{date}.{format}", ""),
        ("a/b/c-{image_name}", "a/b/c-"),
        ("lit{{eral}}/{image_id}.{format}", "lit{eral}/"),
    ],
)
def test_listing_prefix_is_the_literal_text_before_the_first_placeholder(pattern: str, prefix: str) -> None:
    assert listing_prefix(pattern) == prefix


@pytest.mark.parametrize(
    "pattern",
    [
        "exports/{image_name}-{date}.{format}",  # no image id: another image could have written it
        "exports/{image_id}-{date:>10}.{format}",
        "exports/{image_id}-{unknown}.{format}",
    ],
)
def test_patterns_retention_cannot_read_are_refused(pattern: str) -> None:
    with pytest.raises(ConfigurationError):
        select_for_deletion(pattern, IMAGE_ID, [], keep=1, just_written="x")


@pytest.mark.parametrize(
    "digits",
    ["".join(chr(0x0660 + int(d)) for d in "20250101"), "".join(chr(0xFF10 + int(d)) for d in "20250101")],
    ids=["arabic-indic", "full-width"],
)
def test_only_digits_the_pattern_renders_make_a_candidate(digits: str) -> None:
    # \d would match these; no pattern renders them, so such a name is someone else's file.
    foreign = f"exports/debian-12-web-{IMAGE_ID}-{digits}.qcow2"

    assert name_expression(PATTERN, IMAGE_ID).fullmatch(foreign) is None
    older = [export(PATTERN, day) for day in range(3)]
    listing = [*older, ObjectInfo(key=foreign, size_bytes=1, last_modified=DAY)]
    selected = select_for_deletion(PATTERN, IMAGE_ID, listing, keep=1, just_written=older[-1].key)
    assert foreign not in keys(selected)
