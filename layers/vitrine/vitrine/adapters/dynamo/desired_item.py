"""The DESIRED item: how a desired listing is stored, and the rule for the sweep's DirtyIndex.

``pk = LISTING#<listingId>``, ``sk = DESIRED``: ``listingId``, ``ownerId``, ``intermediaryId``?,
``portals``? (list), ``locale``?, ``deleted``, ``version``, ``lastSequence``?, ``updatedAt``?,
``hasData`` and the gzip-JSON binaries ``data``?, ``specific``?, ``media`` (list of CRM media
dicts). Small scalars stay plain attributes so that conditions and updates can use them; large
documents are compressed so a 300-media listing stays far below DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vitrine.adapters.dynamo.table import (
    ItemUpdate,
    compress_json,
    decompress_json,
    dirty_shard,
    optional_int,
)
from vitrine.core.errors import FieldError
from vitrine.core.model import DesiredListing, Media, Rejection, SyncState
from vitrine.core.moments import parse_moment


def desired_fields(desired: DesiredListing) -> dict[str, Any]:
    """The DESIRED item's attributes as Python values (cheap to compare); ``None`` = absent."""
    return {
        "listingId": desired.listing_id,
        "ownerId": desired.owner_id,
        "deleted": desired.deleted,
        "version": desired.version,
        "hasData": desired.data is not None,
        "media": desired.media,
        "intermediaryId": desired.intermediary_id,
        "portals": desired.portals,
        "lastSequence": desired.last_sequence,
        "updatedAt": desired.updated_at,
        "data": desired.data,
        "specific": desired.specific,
        "locale": desired.locale,
    }


# How a field is stored when it is not stored as is: documents are gzip-compressed JSON.
_FIELD_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "media": lambda media: compress_json([m.to_dict() for m in media]),
    "portals": list,
    "data": compress_json,
    "specific": compress_json,
}


def encode_field(name: str, value: Any) -> Any:
    if value is None:
        return None
    encoder = _FIELD_ENCODERS.get(name)
    return encoder(value) if encoder is not None else value


def desired_attributes(desired: DesiredListing) -> dict[str, Any]:
    """The DESIRED item's attributes for ``desired``; ``None`` marks an attribute to remove."""
    return {name: encode_field(name, value) for name, value in desired_fields(desired).items()}


def desired_from_item(listing_id: str, item: Mapping[str, Any]) -> DesiredListing:
    return DesiredListing(
        listing_id=str(item.get("listingId", listing_id)),
        owner_id=str(item.get("ownerId", "")),
        intermediary_id=item.get("intermediaryId"),
        portals=[str(p) for p in item["portals"]] if item.get("portals") is not None else None,
        data=decompress_json(item["data"]) if "data" in item else None,
        specific=decompress_json(item["specific"]) if "specific" in item else None,
        media=[Media.from_dict(m) for m in decompress_json(item["media"])] if "media" in item else [],
        deleted=bool(item.get("deleted", False)),
        version=int(item["version"]),
        last_sequence=optional_int(item.get("lastSequence")),
        updated_at=item.get("updatedAt"),
        locale=item.get("locale"),
    )


def sync_state_from_item(listing_id: str, item: Mapping[str, Any]) -> SyncState:
    """The DESIRED item's bookkeeping, without decompressing its documents."""
    rejection = item.get("rejection")
    return SyncState(
        listing_id=listing_id,
        owner_id=str(item.get("ownerId", "")),
        version=int(item["version"]),
        sent_version=int(item.get("sentVersion", 0)),
        dirty=bool(item.get("dirty", False)),
        first_unsent_at=parse_moment(item.get("firstUnsentAt")),
        last_edit_at=parse_moment(item.get("lastEditAt")),
        lease_owner=item.get("leaseOwner"),
        lease_expires_at=parse_moment(item.get("leaseExpiresAt")),
        deleted=bool(item.get("deleted", False)),
        has_data=bool(item.get("hasData", False)),
        rejected_version=optional_int(rejection.get("desiredVersion")) if rejection else None,
        sync_scheduled_until=parse_moment(item.get("syncScheduledUntil")),
    )


def rejection_from_item(listing_id: str, item: Mapping[str, Any] | None) -> Rejection | None:
    """The last refusal recorded on the DESIRED item (``rejection``, written by sync), if any."""
    raw = item.get("rejection") if item else None
    if not raw:
        return None
    return Rejection(
        listing_id=listing_id,
        desired_version=int(raw["desiredVersion"]),
        errors=tuple(FieldError(str(e["pointer"]), str(e["reason"])) for e in raw.get("errors", [])),
        detail=str(raw.get("detail", "")),
        at=parse_moment(raw.get("at")),
        action=str(raw["action"]) if raw.get("action") else None,
    )


# ---------------------------------------------------------------------------- dirty state, DirtyIndex


def syncable_condition(update: ItemUpdate) -> str:
    """``DesiredListing.is_syncable`` (has data, or is deleted) as a condition on the stored item."""
    return update.any_of(update.equals("hasData", True), update.equals("deleted", True))


def record_new_version(update: ItemUpdate, now: str, *, known_dirty: bool = False) -> None:
    """A new, unsent version was edited at ``now``. The listing is dirty since its first unsent edit:
    ``firstUnsentAt`` is kept when already there (``if_not_exists``, evaluated atomically against the
    item as it is at write time, so a sync that cleaned it meanwhile is seen). ``known_dirty``: the
    caller read it dirty, and the write holds only while it still is."""
    update.set("lastEditAt", now)
    if known_dirty:
        update.require(update.equals("dirty", True))
    else:
        update.set("dirty", True)
        update.set_if_not_exists("firstUnsentAt", now)


def update_dirty_index(
    update: ItemUpdate, desired: DesiredListing, now: str, *, indexed: bool | None = None
) -> bool:
    """Enter the sweep's DirtyIndex when ``desired`` is syncable, else leave it; whether it is in it
    afterwards. ``indexed`` is what the caller read (None: unknown, so the index is written either way).
    """
    belongs = desired.is_syncable
    if belongs and indexed is not True:
        update.set_if_not_exists("dirtySince", now, source="firstUnsentAt")
        update.set("dirtyShard", dirty_shard(desired.listing_id))
    elif not belongs and indexed is not False:
        leave_dirty_index(update)
    return belongs


def leave_dirty_index(update: ItemUpdate) -> None:
    update.remove("dirtySince", "dirtyShard")
