"""The exportability pre-check: refuse early what the IMS documentation says IMS will refuse.

IMS stays authoritative; this only avoids starting an export that cannot succeed, and says why in
words a person can act on. Each refusal carries the IMS error code IMS would answer with.

Order matters: what the image *is* (type, owner, kind, origin) is judged even while it is still being
created; its size is judged only once it is active, because the size is final only then.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ims_export.domain.export_request import IMAGE_ID_PATTERN, ExportRequest
from ims_export.domain.images import GIB, MAX_EXPORT_BYTES, QUICK_EXPORT_ONLY_ABOVE_BYTES, Image, ImageStatus
from ims_export.errors import ImageNotExportableError, ImageNotReadyError, InvalidRequestError

_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)


@dataclass(frozen=True)
class _Case:
    image: Image
    request: ExportRequest
    project_id: str
    parent: Image | None


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str


Rule = Callable[[_Case], Refusal | None]


def _gigabytes(size_bytes: int) -> str:
    return f"{size_bytes / GIB:.1f}".removesuffix(".0") + " GB"


# --- what the image is --------------------------------------------------------------------------


def _not_private(case: _Case) -> Refusal | None:
    kind = case.image.imagetype
    if kind == "private":
        return None
    if kind == "gold":
        return Refusal("IMG.0077", "it is a public image; only private images can be exported")
    return Refusal("IMG.0047", f"it is a {kind or 'non-private'} image; only private images can be exported")


def _not_owned(case: _Case) -> Refusal | None:
    if case.image.owner == case.project_id:
        return None
    return Refusal("IMG.0047", "it belongs to another project; only the owner can export an image")


def _gone(case: _Case) -> Refusal | None:
    if case.image.status in (ImageStatus.DELETED, ImageStatus.KILLED):
        return Refusal("IMG.0046", f"its status is {case.image.status.value}")
    return None


def _full_ecs(case: _Case) -> Refusal | None:
    if case.image.whole_image:
        return Refusal("IMG.0128", "it is a full-ECS image, which IMS cannot export")
    return None


def _iso(case: _Case) -> Refusal | None:
    if (case.image.virtual_env_type or "").lower() == "isoimage":
        return Refusal("IMG.0071", "it is an ISO image, which IMS cannot export")
    return None


def _from_backup(case: _Case) -> Refusal | None:
    if case.image.backup_id:
        return Refusal("IMG.0080", "it was created from a CSBS/CBR backup, which IMS cannot export")
    return None


def _charged(case: _Case) -> Refusal | None:
    if case.image.product_code:
        return Refusal("IMG.0079", "it derives from a charged or marketplace image (it has a product code)")
    return None


def _from_restricted_public_image(case: _Case) -> Refusal | None:
    image, parent = case.image, case.parent
    if not image.restricted_platform or parent is None or parent.id != image.original_image_name:
        return None
    if parent.imagetype != "gold":
        return None
    return Refusal(
        "IMG.0071",
        f"it was created from the public {image.platform} image {parent.id}; private images derived "
        "from Windows, SUSE, Red Hat, Ubuntu or Oracle Linux public images cannot be exported",
    )


# --- its size, once it is final -----------------------------------------------------------------


def _too_large(case: _Case) -> Refusal | None:
    size = case.image.size_bytes
    if size < MAX_EXPORT_BYTES:
        return None
    return Refusal("IMG.0059", f"it is {_gigabytes(size)}; only images below 1 TB can be exported")


def _quick_export_of_encrypted(case: _Case) -> Refusal | None:
    if case.request.is_quick_export and case.image.encrypted:
        return Refusal(
            "IMG.0071", "quick export is not available for encrypted images; decrypt the image first"
        )
    return None


def _needs_quick_export(case: _Case) -> Refusal | None:
    size = case.image.size_bytes
    if size <= QUICK_EXPORT_ONLY_ABOVE_BYTES or case.request.is_quick_export:
        return None
    advice = (
        "decrypt it first, since quick export is not available for encrypted images"
        if case.image.encrypted
        else "set is_quick_export (without file_format)"
    )
    return Refusal(
        "IMG.0160",
        f"it is {_gigabytes(size)}; images above 128 GB can only be exported with quick export: {advice}",
    )


IDENTITY_RULES: tuple[Rule, ...] = (
    _not_private,
    _not_owned,
    _gone,
    _full_ecs,
    _iso,
    _from_backup,
    _charged,
    _from_restricted_public_image,
)
SIZE_RULES: tuple[Rule, ...] = (_too_large, _quick_export_of_encrypted, _needs_quick_export)


def _apply(rules: tuple[Rule, ...], case: _Case) -> None:
    for rule in rules:
        refusal = rule(case)
        if refusal is not None:
            raise ImageNotExportableError(
                f"image {case.image.id} cannot be exported: {refusal.reason}", code=refusal.code
            )


def check_exportable(
    image: Image, request: ExportRequest, *, project_id: str, parent: Image | None = None
) -> None:
    """Return if IMS should accept exporting ``image`` as ``request`` says; raise otherwise.

    ImageNotReadyError: the image is still queued or saving (worth waiting for).
    ImageNotExportableError: a documented rule forbids the export (``.code`` holds the IMG code).
    ``parent`` is the image named by ``parent_image_id_to_check(image)``, when the caller fetched it.
    """
    if image.id != request.image_id:
        raise InvalidRequestError("the image checked is not the image of the request", code="ImageMismatch")
    case = _Case(image=image, request=request, project_id=project_id, parent=parent)
    _apply(IDENTITY_RULES, case)
    if image.status.pending:
        raise ImageNotReadyError(
            f"image {image.id} is not ready yet (status {image.status.value})", code="IMG.0046"
        )
    _apply(SIZE_RULES, case)


def parent_image_id_to_check(image: Image) -> str | None:
    """The parent image to fetch (with ``ImsClient.get_image``) before ``check_exportable``, or None.

    Only images of a restricted platform need it: they are not exportable if their parent is public.
    A parent id that is not an image id (images built from a file) is not looked up.
    """
    parent_id = image.original_image_name
    if not image.restricted_platform or parent_id is None or not _IMAGE_ID.fullmatch(parent_id):
        return None
    return parent_id
