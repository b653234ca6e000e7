"""Fleet exports: choose the images of a scheduled bulk run.

The fleet state machine (``statemachine/fleet.asl.json``) fans out over the selected images, each one
running the single-image export state machine as a child execution. This module decides *which*
images (``select_images``): an explicit list, or the project's private images filtered by name prefix,
tag, age and OS type through the IMS list filters and paging; the ones IMS would refuse are skipped
here with the reason, so that no child is started for them. ``ims_export.fleet.summary`` records each
image's result and summarizes the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ims_export.domain.export_request import FileFormat, ImageId
from ims_export.domain.exportability import check_exportable, parent_image_id_to_check
from ims_export.domain.images import Image
from ims_export.errors import (
    ImageNotExportableError,
    ImageNotFoundError,
    ImageNotReadyError,
)
from ims_export.settings import Settings
from ims_export.triggers.orders import ExportOrder, build_export_request, check_export_options

if TYPE_CHECKING:
    from ims_export.runtime import ImsApi

# A fleet's images pass through S3 (statemachine/fleet.asl.json): the selection is returned a page at a
# time (PAGE_SIZE items, about 60 bytes each, within Step Functions' 256 KB per state and task result),
# each page written to the fleet bucket and exported by its own Distributed Map run.
MAX_FLEET_IMAGES = 10_000
# Explicit ids arrive in the execution input (256 KB at most): 1,000 ids take about 40 KB of it.
MAX_IMAGE_IDS = 1000
DEFAULT_MAX_IMAGES = MAX_FLEET_IMAGES
PAGE_SIZE = 1000
DEFAULT_MAX_CONCURRENCY = 10
MAX_CONCURRENCY = 100
# Reasons and names are cut, and at most MAX_LISTED_SKIPPED skipped images are listed (all are
# counted; benchmarks/fleet.py checks the worst case). Each image's result (read back from the Map
# run's result files) gets MAX_REASON_CHARS; the listed skipped images (200 at most) get
# MAX_SKIPPED_REASON_CHARS: most refusals fit whole, and each keeps its advice.
MAX_REASON_CHARS = 80
MAX_SKIPPED_REASON_CHARS = 160
ELLIPSIS = "..."
# Refusal messages end in their advice: "<what is wrong>: <what to do>" (or "; ").
ADVICE_SEPARATORS = (": ", "; ")
MAX_NAME_CHARS = 64
MAX_LISTED_SKIPPED = 200
OsType = Literal["Linux", "Windows", "Other"]
TagFilter = Annotated[str, StringConstraints(pattern=r"^[^=\s]{1,128}=[^\s]{0,255}$")]


class FleetSelection(BaseModel):
    """The fleet run's input: explicit image ids, or filters over the project's private images."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: Literal["fleet"] = "fleet"
    image_ids: list[ImageId] | None = Field(default=None, min_length=1, max_length=MAX_IMAGE_IDS)
    name_prefix: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    tag: TagFilter | None = None
    older_than_days: int | None = Field(default=None, ge=1, le=36500)
    newer_than_days: int | None = Field(default=None, ge=1, le=36500)
    os_type: OsType | None = None
    max_images: int = Field(default=DEFAULT_MAX_IMAGES, ge=1, le=MAX_FLEET_IMAGES)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    file_format: FileFormat | None = None
    is_quick_export: bool = False
    schedule_arn: str | None = None
    scheduled_time: str | None = None

    @model_validator(mode="after")
    def _one_way_to_select(self) -> FleetSelection:
        filters = (self.name_prefix, self.tag, self.older_than_days, self.newer_than_days, self.os_type)
        if self.image_ids is not None and any(value is not None for value in filters):
            raise ValueError("give either image_ids or filters, not both")
        if self.image_ids is not None and len(set(self.image_ids)) != len(self.image_ids):
            raise ValueError("image_ids must not repeat an image")
        return self

    def list_filters(self, now: datetime) -> dict[str, str]:
        """The ``GET /v2/cloudimages`` query (the name prefix is matched here: IMS only has ``name=``)."""
        filters = {"__imagetype": "private", "sort_key": "created_at", "sort_dir": "asc"}
        if self.tag is not None:
            filters["tag"] = self.tag
        if self.os_type is not None:
            filters["__os_type"] = self.os_type
        # One created_at filter at most: IMS takes a single op:time; the other bound is checked here.
        if self.older_than_days is not None:
            filters["created_at"] = f"lt:{_iso(now - timedelta(days=self.older_than_days))}"
        elif self.newer_than_days is not None:
            filters["created_at"] = f"gt:{_iso(now - timedelta(days=self.newer_than_days))}"
        return filters


class FleetItem(BaseModel):
    """One child execution's input: a manual trigger of the export state machine (no bucket_url, so
    the object name comes from the configured pattern and every image gets its own object)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    file_format: FileFormat | None = None
    is_quick_export: bool = False


class SkippedImage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    image_id: str
    image_name: str = ""
    code: str | None = None
    reason: str


class SelectionRequest(BaseModel):
    """The select step's input: the fleet run's input, and which page of the selection to return."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    selection: FleetSelection
    page: int = Field(default=0, ge=0)


class FleetPlan(BaseModel):
    """One page of the images to export (``items``, at most ``PAGE_SIZE``), with what every page
    repeats: the images left out (the first ``MAX_LISTED_SKIPPED`` of them listed with the reason,
    all of them counted), how many were selected, and the number of pages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[FleetItem] = Field(max_length=PAGE_SIZE)
    page: int = Field(ge=0)
    pages: int = Field(ge=0)
    next_page: int | None = None  # unset on the last page
    selected: int = Field(ge=0)
    skipped: list[SkippedImage] = Field(max_length=MAX_LISTED_SKIPPED)
    skipped_count: int = Field(ge=0)
    max_concurrency: int = Field(ge=1, le=MAX_CONCURRENCY)
    considered: int = Field(ge=0)
    selected_at: datetime


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cut_between_words(text: str, limit: int) -> str | None:
    """At most ``limit`` characters of ``text``, ending at a word's end; None if no word fits."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)
    return text[:space].rstrip(" ,;:") or None if space > 0 else None


def shorten(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` in at most ``limit`` characters (a fleet lists hundreds of reasons in one payload),
    cut only between words. The advice after the last ``": "`` or ``"; "`` is what a reader acts on:
    it is kept whole and the statement before it is cut, when the advice fits."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = max(text.rfind(separator) for separator in ADVICE_SEPARATORS)
    if cut > 0:
        separator, advice = text[cut : cut + 2], text[cut + 2 :]
        statement = _cut_between_words(text[:cut], limit - len(ELLIPSIS) - len(separator) - len(advice))
        if statement:
            return statement + ELLIPSIS + separator + advice
        if len(ELLIPSIS) + 1 + len(advice) <= limit:  # the advice alone, rather than no advice
            return f"{ELLIPSIS} {advice}"
    # No advice that fits: the text's beginning, still between words (one endless word is cut).
    head = _cut_between_words(text, limit - len(ELLIPSIS)) or text[: limit - len(ELLIPSIS)]
    return head + ELLIPSIS


def _created_at(image: Image) -> datetime | None:
    if not image.created_at:
        return None
    try:
        return datetime.fromisoformat(image.created_at.replace("Z", "+00:00"))
    except ValueError:
        return None


def _matches(image: Image, selection: FleetSelection, now: datetime) -> bool:
    """Client-side conditions: the name prefix, and the age bound the IMS query could not carry."""
    if selection.name_prefix is not None and not image.name.startswith(selection.name_prefix):
        return False
    if selection.older_than_days is not None and selection.newer_than_days is not None:
        created = _created_at(image)
        if created is None or created <= now - timedelta(days=selection.newer_than_days):
            return False
    return True


def _candidates(selection: FleetSelection, catalog: ImsApi, now: datetime) -> Iterator[Image | str]:
    """Images to consider; an id string for a listed id that IMS does not know."""
    if selection.image_ids is not None:
        for image_id in selection.image_ids:
            try:
                yield catalog.get_image(image_id)
            except ImageNotFoundError:
                yield image_id
        return
    yielded = 0
    for image in catalog.list_images(selection.list_filters(now)):
        if _matches(image, selection, now):
            yield image
            yielded += 1
            if yielded >= selection.max_images:
                return


class _ParentCache:
    """Restricted-platform images name their parent; many share one, so it is fetched once."""

    def __init__(self, catalog: ImsApi) -> None:
        self._catalog = catalog
        self._parents: dict[str, Image | None] = {}

    def parent_of(self, image: Image) -> Image | None:
        parent_id = parent_image_id_to_check(image)
        if parent_id is None:
            return None
        if parent_id not in self._parents:
            try:
                self._parents[parent_id] = self._catalog.get_image(parent_id)
            except ImageNotFoundError:
                self._parents[parent_id] = None
        return self._parents[parent_id]


def _refusal(
    image: Image,
    *,
    order: ExportOrder,
    settings: Settings,
    project_id: str,
    parents: _ParentCache,
    now: datetime,
) -> SkippedImage | None:
    request = build_export_request(order, image_name=image.name, settings=settings, now=now)
    try:
        check_exportable(image, request, project_id=project_id, parent=parents.parent_of(image))
    except ImageNotReadyError:
        return None  # still being created: its export waits for it, as a single export does
    except ImageNotExportableError as error:
        # The entry names the image already: keep only the rule from the message.
        reason = error.message.removeprefix(f"image {image.id} cannot be exported: ")
        return SkippedImage(
            image_id=image.id,
            image_name=image.name[:MAX_NAME_CHARS],
            code=error.code,
            reason=shorten(reason, MAX_SKIPPED_REASON_CHARS),
        )
    return None


def select_images(
    selection: FleetSelection,
    catalog: ImsApi,
    *,
    settings: Settings,
    project_id: str,
    default_max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    now: datetime,
    page: int = 0,
) -> FleetPlan:
    """Page ``page`` of the images to export, and those skipped with the reason (not found, not
    exportable). Every page lists and checks the whole selection again (a few list calls per
    thousand images), so that the pages never disagree about which image is on which page.

    The run's options are checked before any IMS call (InvalidRequestError/ConfigurationError).
    """
    # A fleet's children name no bucket: the configured one and its object pattern must do.
    check_export_options(
        file_format=selection.file_format,
        is_quick_export=selection.is_quick_export,
        bucket_url=None,
        settings=settings,
    )
    parents = _ParentCache(catalog)
    items: list[FleetItem] = []
    skipped: list[SkippedImage] = []
    considered = 0
    for candidate in _candidates(selection, catalog, now):
        considered += 1
        if isinstance(candidate, str):
            skipped.append(SkippedImage(image_id=candidate, code="IMG.0027", reason="image not found"))
            continue
        order = _order(selection, image_id=candidate.id)
        refusal = _refusal(
            candidate, order=order, settings=settings, project_id=project_id, parents=parents, now=now
        )
        if refusal is not None:
            skipped.append(refusal)
            continue
        items.append(
            FleetItem(
                image_id=candidate.id,
                file_format=selection.file_format,
                is_quick_export=selection.is_quick_export,
            )
        )
    pages = -(-len(items) // PAGE_SIZE)
    return FleetPlan(
        items=items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE],
        page=page,
        pages=pages,
        next_page=page + 1 if page + 1 < pages else None,
        selected=len(items),
        skipped=skipped[:MAX_LISTED_SKIPPED],
        skipped_count=len(skipped),
        max_concurrency=selection.max_concurrency or default_max_concurrency,
        considered=considered,
        selected_at=now,
    )


def _order(selection: FleetSelection, *, image_id: str) -> ExportOrder:
    """The manual export order a child runs for ``image_id`` (its object name is checked with it)."""
    return ExportOrder(
        trigger="manual",
        image_id=image_id,
        file_format=selection.file_format,
        is_quick_export=selection.is_quick_export,
    )
