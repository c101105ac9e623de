"""Quality warnings: valid for AVIV, but probably not what the owner wants the portals to show.

They never block a send: ingest returns them in the 202 (pointed into the webhook body by
``core.events.review``), and sync reports them with its outcome, so the CRM can fix the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vitrine.core.model import Media


@dataclass(frozen=True)
class QualityWarning:
    """Valid for AVIV but probably not what the owner wants the portals to show. Never blocks a send."""

    code: str
    pointer: str  # into the classified (``/media/3``); ingest maps it into the webhook body
    message: str  # names other media by their CRM id, which means the same in every body


_POOR_FIRST_PICTURE = frozenset({"FLOOR_PLAN", "MAP", "LOGO", "ENERGY_CERTIFICATE"})


def _categories(media: Media) -> set[str]:
    found = set(media.tags)
    if media.category is not None:
        found.add(media.category)
    return found


def quality_warnings(media: Sequence[Media]) -> list[QualityWarning]:
    """What the portals will show differently from what the list suggests. Nothing is reordered."""
    warnings: list[QualityWarning] = []
    first_video: int | None = None
    first_virtual_tour: int | None = None
    first_picture: int | None = None
    for index, item in enumerate(media):
        pointer = f"/media/{index}"
        if item.media_type == "VIDEO":
            if first_video is None:
                first_video = index
            else:
                warnings.append(QualityWarning(
                    "extra_video", pointer,
                    f"only the first video (media {media[first_video].id!r}) is displayed by the portals",
                ))  # fmt: skip
        elif item.media_type == "VIRTUAL_TOUR":
            if first_virtual_tour is None:
                first_virtual_tour = index
            else:
                warnings.append(QualityWarning(
                    "extra_virtual_tour", pointer,
                    f"only the first virtual tour (media {media[first_virtual_tour].id!r}) "
                    "is displayed by the portals",
                ))  # fmt: skip
        elif item.media_type == "PICTURE" and first_picture is None:
            first_picture = index
            poor = sorted(_categories(item) & _POOR_FIRST_PICTURE)
            if poor:
                warnings.append(QualityWarning(
                    "poor_first_picture", pointer,
                    f"the first picture is the listing's main photo but is a {'/'.join(poor)}",
                ))  # fmt: skip
            continue
        if (item.category == "COVER_PICTURE" or "COVER_PICTURE" in item.tags) and index != first_picture:
            warnings.append(QualityWarning(
                "cover_not_first", pointer,
                "marked COVER_PICTURE but not the first picture: portals show the first picture first",
            ))  # fmt: skip
    return warnings
