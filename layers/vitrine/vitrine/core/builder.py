"""Build the AVIV ``AvivClassified`` body from the desired listing and its stamped media.

The body is a pure function of its inputs (same inputs, same dict, same ``json.dumps``): the sync
compares it with the last-sent body to decide whether to call AVIV at all, and a retry must send
the very same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vitrine.core.model import DesiredListing, StampedMedia


@dataclass(frozen=True)
class ClassifiedDefaults:
    """What vitrine fills in when the CRM leaves it out (from settings)."""

    source_system: str
    source_system_version: str
    default_portals: tuple[str, ...]
    # The agency (AVIV intermediary) acted for when the CRM names none: a listing's agency is
    # compared with the one its classified was sent under (an agency move), defaults resolved.
    default_intermediary_id: str | None = None


def copy_json(value: Any) -> Any:
    """Deep copy of a JSON-like tree (dicts, lists/tuples, scalars), much faster than ``copy.deepcopy``.

    Tuples become lists: the body must look the same whether it was built or loaded back from storage.
    """
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_json(item) for item in value]
    return value


def _with_source_defaults(data: dict[str, Any], listing_id: str, defaults: ClassifiedDefaults) -> None:
    """Fill ``metaData.source`` where the CRM said nothing; never overwrite what it did say."""
    meta_data = data.get("metaData")
    if meta_data is None:
        meta_data = data["metaData"] = {}
    if not isinstance(meta_data, dict):
        return  # the CRM sent something odd: leave it for validation to report
    source = meta_data.get("source")
    if source is None:
        source = meta_data["source"] = {}
    if not isinstance(source, dict):
        return
    source.setdefault("sourceSystem", defaults.source_system)
    source.setdefault("sourceSystemVersion", defaults.source_system_version)
    source.setdefault("offererEstateId", listing_id)
    source.setdefault("offererMarketingKey", source["offererEstateId"])


def media_item(stamped: StampedMedia) -> dict[str, Any]:
    """One AVIV media item. Never id/version/displayOrder/mimeType: AVIV rejects unknown properties."""
    media = stamped.media
    item: dict[str, Any] = {"url": stamped.aviv_url, "mediaType": media.media_type}
    if media.category is not None:
        item["category"] = media.category
    if media.tags:
        item["tags"] = list(media.tags)
    if media.title is not None:
        item["title"] = media.title
    return item


def build_classified(
    desired: DesiredListing, stamped: Sequence[StampedMedia], defaults: ClassifiedDefaults
) -> dict[str, Any]:
    """The exact body for POST/PUT: ``portals``, ``data``, ``specific`` (only if set) and ``media`` in order.

    ``media`` is always present, empty included: a PUT replaces everything, so an empty list is
    how "no media any more" is said. ``portals`` is the CRM's list as given, an empty one included
    ("on no portal", which AVIV allows); only a listing that never named its portals takes the
    configured defaults.
    """
    data: dict[str, Any] = copy_json(desired.data) if desired.data is not None else {}
    _with_source_defaults(data, desired.listing_id, defaults)
    body: dict[str, Any] = {
        "portals": list(desired.portals) if desired.portals is not None else list(defaults.default_portals),
        "data": data,
    }
    if desired.specific is not None:
        body["specific"] = copy_json(desired.specific)
    body["media"] = [media_item(s) for s in stamped]
    return body
