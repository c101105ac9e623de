"""Classifieds "created by another sender": stored as if POSTed and processed long ago.

An agency migrating to vitrine already has classifieds on AVIV, created by its previous software;
a vitrine whose state table was lost finds its own. Tests and ``bench/migration.py`` set that up
here: the classified is checked like a POST body, its media are held as downloaded (with their
timestamps), and its statuses say RECEIVED then CREATED. Nothing is downloaded and no call is
recorded, so what vitrine's first sync makes AVIV do is all the inspection shows afterwards.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from devtools.aviv_emulator.processing import new_status
from devtools.aviv_emulator.records import (
    Classified,
    MediaState,
    media_items,
    media_key,
    now,
    offerer_estate_id,
)
from devtools.aviv_emulator.state import EmulatorState
from devtools.aviv_emulator.validation import BodyValidation


def preload_classified(
    state: EmulatorState, validation: BodyValidation, body: dict[str, Any], *, intermediary_id: str | None
) -> str:
    """Store ``body`` as a live, processed classified of ``intermediary_id``'s agency; its id.

    Raises ValueError for a body AVIV would refuse, or when the agency already has a live
    classified with this offererEstateId (as a POST would be refused).
    """
    errors = validation.classified_errors(body)
    if errors:
        raise ValueError(f"AVIV would refuse this classified: {errors[:5]}")
    scope = intermediary_id or ""
    wanted = offerer_estate_id(body)
    with state.lock:
        if wanted is not None and state.holder_of(wanted, scope, exclude=None, reserved=False):
            raise ValueError(f"agency {scope!r} already has a classified with offererEstateId {wanted!r}")
        state.sequence += 1
        classified = Classified(
            classified_id=str(uuid.uuid4()),
            scope=scope,
            intermediary_id=intermediary_id,
            customer_id=intermediary_id or "another-sender",
            body=copy.deepcopy(body),
            revision=1,
            created_at=now(),
            sequence=state.sequence,
        )
        media_statuses: list[dict[str, str]] = []
        for item in media_items(body):
            key, timestamp = media_key(item["url"])
            classified.media[key] = MediaState(url=item["url"], timestamp=timestamp, status="CREATED")
            media_statuses.append({"url": item["url"], "status": "CREATED"})
        for name, statuses in (
            ("RECEIVING", []),
            ("RECEIVED", []),
            ("CREATING", []),
            ("CREATED", media_statuses),
        ):
            status = new_status(classified, name, kind="POST", revision=1, body=body, media_statuses=statuses)
            classified.statuses.append(status)
        state.classifieds[classified.classified_id] = classified
    return classified.classified_id
