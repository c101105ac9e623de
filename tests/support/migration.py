"""Classifieds "another sender created": what an agency's previous software left on AVIV.

Used by the migration tests, the e2e scenario and ``bench/migration.py``: the body is the listing as
that software would have sent it (its own ``sourceSystem``, its own timestamps on the same URLs),
pre-loaded into the AVIV emulator with ``AvivEmulator.preload_classified``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.model import DesiredListing, Media, StampedMedia
from vitrine.core.timestamps import with_timestamp

PREVIOUS_SOFTWARE = ClassifiedDefaults("ancien-logiciel", "7.2.1", ("SL",))
PREVIOUS_TIMESTAMP = "2024-11-05T16:42:09"


def other_sender_body(
    desired: DesiredListing,
    media: Sequence[Media] | None = None,
    *,
    spell: Callable[[str], str] = lambda url: with_timestamp(url, PREVIOUS_TIMESTAMP),
) -> dict[str, Any]:
    """The classified the previous software sent for ``desired`` (its ``media``, default all), each
    URL spelled by ``spell`` (default: the URL with the previous software's timestamp)."""
    chosen = desired.media if media is None else media
    stamped = [StampedMedia(m, PREVIOUS_TIMESTAMP, spell(m.url), adopted=True) for m in chosen]
    return build_classified(desired, stamped, PREVIOUS_SOFTWARE)


def desired_of_upsert(event: dict[str, Any]) -> DesiredListing:
    """The desired listing a ``listing.upserted`` webhook event describes (enough to build its body)."""
    listing = event["listing"]
    return DesiredListing(
        listing_id=event["listingId"],
        owner_id=event["ownerId"],
        portals=listing["portals"],
        data=listing["data"],
        media=[Media.from_dict(m) for m in listing["media"]],
    )
