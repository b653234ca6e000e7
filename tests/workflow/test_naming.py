from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ims_export.domain.naming import render_object_name, sanitize_name_part
from ims_export.errors import ConfigurationError

NOW = datetime(2026, 11, 27, 8, 5, 9, tzinfo=UTC)
IMAGE_ID = "5b4c8f0e-3a1d-4e7b-9c2a-1f6d8e9a0b11"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("web server (prod)", "web-server-prod"),
        ("ubuntu_22.04-golden", "ubuntu_22.04-golden"),
        ("Bild/über alles", "Bild-ber-alles"),
        ("..", "image"),
        ("", "image"),
        ("   ", "image"),
    ],
)
def test_image_names_are_reduced_to_characters_ims_accepts(raw: str, expected: str) -> None:
    assert sanitize_name_part(raw) == expected


def test_default_pattern_renders_every_placeholder() -> None:
    name = render_object_name(
        "exports/{image_name}-{image_id}-{date}.{format}",
        image_name="web server",
        image_id=IMAGE_ID,
        extension="qcow2",
        now=NOW,
    )
    assert name == f"exports/web-server-{IMAGE_ID}-20261127.qcow2"


def test_time_and_timestamp_placeholders() -> None:
    name = render_object_name(
        "{timestamp}/{time}.{format}", image_name="x", image_id=IMAGE_ID, extension="vhd", now=NOW
    )
    assert name == "20261127T080509Z/080509.vhd"


def test_a_long_image_name_is_shortened_to_fit_128_characters() -> None:
    name = render_object_name(
        "exports/{image_name}-{image_id}.{format}",
        image_name="n" * 300,
        image_id=IMAGE_ID,
        extension="qcow2",
        now=NOW,
    )
    assert len(name) == 128
    assert name.endswith(f"-{IMAGE_ID}.qcow2")


@pytest.mark.parametrize(
    "pattern",
    ["exports/{owner}.{format}", "exports/{image_name", "exports/ {image_id}", "../{image_id}.{format}"],
)
def test_a_bad_pattern_is_a_configuration_error(pattern: str) -> None:
    with pytest.raises(ConfigurationError):
        render_object_name(pattern, image_name="x", image_id=IMAGE_ID, extension="qcow2", now=NOW)
