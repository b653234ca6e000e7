"""Fleet selection: explicit ids or IMS list filters (through the real IMS client, paging included),
pre-checked so that images IMS would refuse are skipped with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from ims_export.cloud.http import new_session
from ims_export.cloud.ims import ImsClient
from ims_export.domain.images import Image
from ims_export.errors import ConfigurationError, InvalidRequestError
from ims_export.fleet import selection as fleet
from ims_export.parsing import parse_model
from ims_export.settings import Settings
from localdev.cfn_yaml import load_template
from localdev.emulator.listing import list_images
from localdev.emulator.model import GIB, EmulatedImage
from localdev.emulator.seed import image_record
from tests.ims.conftest import IMS, PROJECT_ID, TIMEOUT, FakeTokens

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
SETTINGS = Settings(export_bucket="exports-bucket")
PAGE_SIZE = 2


def _image(name: str, days_old: int, **fields: Any) -> EmulatedImage:
    created = (NOW - timedelta(days=days_old)).timestamp()
    image_id = f"{days_old:08d}-0000-4000-8000-{name.encode().hex()[:12]:0>12}"
    return EmulatedImage(
        image_record(
            image_id=image_id, name=name, owner=PROJECT_ID, created_at=created, size_bytes=4 * GIB, **fields
        )
    )


CATALOG = [
    _image("web-1", 1, tags=["team=web"]),
    _image("web-2", 3, tags=["team=web"]),
    _image("web-3", 10, tags=["team=web"]),
    _image("web-4", 30),
    _image("web-5", 40, os_type="Other"),
    _image("web-iso", 5, virtual_env_type="IsoImage", disk_format="iso", __originalimagename=""),
    _image("db-1", 20, tags=["team=db"]),
    _image("db-2", 60, tags=["team=db"]),
]
BY_NAME = {image.record["name"]: image.id for image in CATALOG}


class PagedCatalog(ImsClient):
    """The IMS client with small pages, so that a selection reads several of them."""

    def list_images(
        self, filters: Mapping[str, str], *, page_size: int = PAGE_SIZE, max_items: int | None = None
    ) -> Iterator[Image]:
        return super().list_images(filters, page_size=PAGE_SIZE, max_items=max_items)


@pytest.fixture
def ims() -> Iterator[responses.RequestsMock]:
    """IMS's image list, answered by the emulator's filter and paging code."""

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        return 200, {}, json.dumps({"images": list_images(CATALOG, query)})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, f"{IMS}/v2/cloudimages", callback=answer)
        yield mock


@pytest.fixture
def catalog() -> PagedCatalog:
    return PagedCatalog(FakeTokens(), new_session(), TIMEOUT, endpoint=IMS)


def select(catalog: PagedCatalog, **selection: Any) -> fleet.FleetPlan:
    parsed = parse_model(fleet.FleetSelection, {"trigger": "fleet", **selection})
    return fleet.select_images(parsed, catalog, settings=SETTINGS, project_id=PROJECT_ID, now=NOW)


def names(plan: fleet.FleetPlan) -> list[str]:
    by_id = {image_id: name for name, image_id in BY_NAME.items()}
    return [by_id[item.image_id] for item in plan.items]


def queries(ims: responses.RequestsMock) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(call.request.url or "").query) for call in ims.calls]


def test_explicit_ids_keep_their_order_and_skip_unknown_and_refused_images(
    ims: responses.RequestsMock, catalog: PagedCatalog
) -> None:
    unknown = "99999999-0000-4000-8000-000000000000"
    ids = [BY_NAME["db-2"], unknown, BY_NAME["web-iso"], BY_NAME["web-1"]]
    plan = select(catalog, image_ids=ids, file_format="vmdk")

    assert names(plan) == ["db-2", "web-1"]
    assert {item.file_format for item in plan.items} == {"vmdk"}
    assert plan.considered == 4
    assert plan.skipped_count == 2
    skipped = {item.image_id: item for item in plan.skipped}
    assert skipped[unknown].code == "IMG.0027"
    iso = skipped[BY_NAME["web-iso"]]
    assert (iso.code, iso.image_name) == ("IMG.0071", "web-iso")
    assert iso.reason.startswith("it is an ISO image")  # the entry names the image already
    assert plan.max_concurrency == fleet.DEFAULT_MAX_CONCURRENCY


def test_name_prefix_reads_every_page_of_private_images(
    ims: responses.RequestsMock, catalog: PagedCatalog
) -> None:
    plan = select(catalog, name_prefix="web-", max_concurrency=3)

    assert names(plan) == ["web-5", "web-4", "web-3", "web-2", "web-1"]  # oldest first
    assert [item.image_id for item in plan.skipped] == [BY_NAME["web-iso"]]
    assert plan.considered == 6
    assert plan.max_concurrency == 3
    sent = queries(ims)
    assert len(sent) == len(CATALOG) // PAGE_SIZE + 1  # every page, then the short last one
    assert all(query["__imagetype"] == ["private"] and query["sort_dir"] == ["asc"] for query in sent)
    # The first page is db-2 and web-5 (oldest first): the second starts after web-5.
    assert [query.get("marker") for query in sent][:2] == [None, [BY_NAME["web-5"]]]


def test_max_images_stops_reading_pages(ims: responses.RequestsMock, catalog: PagedCatalog) -> None:
    plan = select(catalog, name_prefix="web-", max_images=2)

    assert names(plan) == ["web-5", "web-4"]
    assert len(ims.calls) < len(CATALOG) // PAGE_SIZE


@pytest.mark.parametrize(
    ("selection", "expected", "query"),
    [
        ({"tag": "team=db"}, ["db-2", "db-1"], {"tag": ["team=db"]}),
        ({"os_type": "Other"}, ["web-5"], {"__os_type": ["Other"]}),
        ({"older_than_days": 25}, ["db-2", "web-5", "web-4"], {"created_at": ["lt:2026-11-04T02:00:00Z"]}),
        ({"newer_than_days": 4}, ["web-2", "web-1"], {"created_at": ["gt:2026-11-25T02:00:00Z"]}),
        (
            {"older_than_days": 2, "newer_than_days": 15},
            ["web-3", "web-2"],
            {"created_at": ["lt:2026-11-27T02:00:00Z"]},
        ),
        ({"tag": "team=web", "name_prefix": "web-1"}, ["web-1"], {"tag": ["team=web"]}),
    ],
)
def test_filters_go_to_ims_and_the_rest_is_matched_here(
    ims: responses.RequestsMock,
    catalog: PagedCatalog,
    selection: dict[str, Any],
    expected: list[str],
    query: dict[str, list[str]],
) -> None:
    plan = select(catalog, **selection)

    assert names(plan) == expected
    first = queries(ims)[0]
    assert {key: first[key] for key in query} == query


def test_skipped_images_are_all_counted_but_listed_up_to_the_cap(
    ims: responses.RequestsMock, catalog: PagedCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet, "MAX_LISTED_SKIPPED", 1)
    unknown = [f"99999999-0000-4000-8000-00000000000{n}" for n in range(3)]
    plan = select(catalog, image_ids=unknown)

    assert plan.items == []
    assert plan.skipped_count == 3
    assert [item.image_id for item in plan.skipped] == unknown[:1]


@pytest.mark.parametrize(
    "selection",
    [
        {"image_ids": [BY_NAME["web-1"]], "name_prefix": "web"},  # both ways at once
        {"image_ids": [BY_NAME["web-1"], BY_NAME["web-1"]]},  # an image twice
        {"image_ids": []},
        {"image_ids": ["not-an-id"]},
        {"tag": "no-equals-sign"},
        {"older_than_days": 0},
        {"os_type": "Solaris"},
        {"max_concurrency": 0},
        {"max_concurrency": fleet.MAX_CONCURRENCY + 1},
        {"max_images": fleet.MAX_FLEET_IMAGES + 1},
        {"file_format": "iso"},
        {"trigger": "manual"},
        {"name_prefix": "web", "unknown": 1},
    ],
)
def test_bad_selection_is_a_named_error(selection: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        parse_model(fleet.FleetSelection, {"trigger": "fleet", **selection})


def test_conflicting_format_is_refused_before_any_ims_call(
    ims: responses.RequestsMock, catalog: PagedCatalog
) -> None:
    with pytest.raises(InvalidRequestError, match="quick export"):
        select(catalog, name_prefix="web-", file_format="qcow2", is_quick_export=True)
    assert len(ims.calls) == 0


def test_the_default_concurrency_is_a_setting_within_the_fleet_bounds() -> None:
    assert Settings.from_env({}).fleet_max_concurrency == fleet.DEFAULT_MAX_CONCURRENCY
    tuned = Settings.from_env({"IMS_EXPORT_SETTINGS": '{"FLEET_MAX_CONCURRENCY": 25}'})
    assert tuned.fleet_max_concurrency == 25
    for bad in ("0", "101", "ten"):
        with pytest.raises(ConfigurationError, match="FLEET_MAX_CONCURRENCY"):
            Settings.from_env({"FLEET_MAX_CONCURRENCY": bad})
    assert Settings.from_env({"FLEET_MAX_CONCURRENCY": str(fleet.MAX_CONCURRENCY)}).fleet_max_concurrency == (
        fleet.MAX_CONCURRENCY
    )


def test_sample_event_and_template_default_are_valid_selections() -> None:
    template = load_template(ROOT / "template.yaml")
    default = json.loads(template["Parameters"]["FleetSelection"]["Default"])
    sample = json.loads((ROOT / "events" / "fleet" / "schedule.json").read_text(encoding="utf-8"))
    for document in (default, sample):
        assert parse_model(fleet.FleetSelection, document).trigger == "fleet"


def test_pages_split_the_selection_and_repeat_its_counts(
    ims: responses.RequestsMock, catalog: PagedCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet, "PAGE_SIZE", 2)
    parsed = fleet.FleetSelection.model_validate({"trigger": "fleet"})
    plans = []
    page: int | None = 0
    while page is not None:
        plan = fleet.select_images(
            parsed, catalog, settings=SETTINGS, project_id=PROJECT_ID, now=NOW, page=page
        )
        plans.append(plan)
        page = plan.next_page
    selected = [item.image_id for plan in plans for item in plan.items]
    assert len(selected) == len(set(selected)) == plans[0].selected
    assert len(plans) == plans[0].pages == -(-plans[0].selected // 2)
    assert {(plan.selected, plan.skipped_count, plan.considered) for plan in plans} == {
        (plans[0].selected, plans[0].skipped_count, plans[0].considered)
    }
