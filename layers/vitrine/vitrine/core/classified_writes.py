"""The AVIV calls of one sync: POST, PUT or DELETE, and the recoveries AVIV's answers call for.

AVIV has no idempotency header; ``offererEstateId`` is unique per agency instead. So a POST may
meet "Duplicated classified": our own earlier POST whose answer was lost, or a classified another
sender created (an agency migrating to vitrine, a lost state table). The classified it names is
then read and adopted (``vitrine.core.adoption``), or, with adoption off, replaced by a PUT.

Why POST first rather than ``GET /classifieds?offererEstateId=`` first: a new listing, the
steady state of every agency, then costs one call instead of two; a listing AVIV already holds costs
three (the refused POST changes nothing at AVIV, GET, PUT) once, at migration. The Duplicated
answer comes from AVIV's write path, where the id's uniqueness is enforced, whereas the list is a
search; and ``GET /classifieds/{id}`` gives the ETag that makes the PUT conditional (``If-Match``),
so a write by the previous software in between is not overwritten blindly. The list is the
fallback when the Duplicated answer names no classified (its items carry the whole classified, so
it is still three calls).

Anything AVIV refuses that vitrine cannot fix raises ``Refused`` (see ``vitrine.core.refusals``).
Only ports are used; no state is written here (the caller writes ahead through ``before_put``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from vitrine.core.errors import AvivDuplicatedClassified, AvivNotFound, AvivRejected
from vitrine.core.plan import SyncPlan
from vitrine.core.ports import AvivClassifiedCopy, AvivPort
from vitrine.core.refusals import (
    Refusal,
    Refused,
    body_refused,
    delete_refused,
    reserved_offerer_estate_id,
)

logger = logging.getLogger(__name__)

Operation = Literal["POST", "PUT", "DELETE"]
Adopt = Callable[[AvivClassifiedCopy], SyncPlan]
BeforePut = Callable[[SyncPlan, str], None]


@dataclass(frozen=True)
class Written:
    """Where the listing now is on AVIV, the call that put it there (None: AVIV already held exactly
    this body), and the plan that was sent (an adoption plans again with AVIV's timestamps)."""

    classified_id: str
    operation: Operation | None
    plan: SyncPlan


def write_classified(
    live_classified_id: str | None,
    plan: SyncPlan,
    aviv: AvivPort,
    agency: str | None,
    *,
    adopt: Adopt | None,
    before_put: BeforePut,
) -> Written:
    """PUT onto the live classified; POST when there is none, or when AVIV lost the one we knew.

    ``adopt`` (first sends only, when adoption is on) plans the send onto a classified AVIV
    already holds; ``before_put`` writes that new plan ahead before it is sent.
    """
    try:
        if live_classified_id is None:
            return _create(plan, aviv, agency, adopt, before_put)
        try:
            accepted = aviv.update(live_classified_id, plan.body, intermediary_id=agency)
            return Written(accepted.classified_id, "PUT", plan)
        except AvivNotFound:
            logger.warning("classified %s is gone from AVIV; creating it again", live_classified_id)
            return _create(plan, aviv, agency, None, before_put)
    except AvivRejected as refused:
        raise Refused(body_refused(refused)) from refused


def _create(
    plan: SyncPlan, aviv: AvivPort, agency: str | None, adopt: Adopt | None, before_put: BeforePut
) -> Written:
    try:
        return Written(aviv.create(plan.body, intermediary_id=agency).classified_id, "POST", plan)
    except AvivDuplicatedClassified as duplicate:
        if adopt is not None:
            return _adopt(duplicate, plan, aviv, agency, adopt, before_put)
        classified_id = duplicate.classified_id or find_classified_id(plan.body, aviv, agency)
        if classified_id is None:
            raise Refused(_reserved(plan.body, None, duplicate, None)) from duplicate
        logger.info("classified %s already has this offererEstateId; replacing it with PUT", classified_id)
        return Written(_put_onto(classified_id, plan, aviv, agency, duplicate, None), "PUT", plan)


def _adopt(
    duplicate: AvivDuplicatedClassified,
    plan: SyncPlan,
    aviv: AvivPort,
    agency: str | None,
    adopt: Adopt,
    before_put: BeforePut,
) -> Written:
    """Read what AVIV holds, keep its URLs where the CRM's match, then PUT (or nothing)."""
    held = _held_classified(duplicate, plan.body, aviv, agency)
    adopted = adopt(held)
    if not adopted.is_valid:
        # An adopted URL breaks vitrine's own checks: send vitrine's spelling (a download) instead.
        logger.warning("not adopting AVIV's media URLs of %s: %s", held.classified_id, adopted.errors)
        adopted = plan
    elif adopted.diff.is_noop:
        logger.info("adopted classified %s: AVIV already holds this exact body", held.classified_id)
        return Written(held.classified_id, None, adopted)
    before_put(adopted, held.classified_id)
    classified_id = _put_onto(held.classified_id, adopted, aviv, agency, duplicate, held.etag)
    return Written(classified_id, "PUT", adopted)


def _held_classified(
    duplicate: AvivDuplicatedClassified, body: dict[str, Any], aviv: AvivPort, agency: str | None
) -> AvivClassifiedCopy:
    """The classified the Duplicated answer names (GET), else the one listed for the offererEstateId."""
    if duplicate.classified_id:
        try:
            return aviv.get(duplicate.classified_id, intermediary_id=agency)
        except AvivNotFound as missing:
            raise Refused(_reserved(body, duplicate.classified_id, duplicate, missing)) from missing
    for item in _listed(body, aviv, agency):
        classified_id = item.get("classifiedId")
        if isinstance(classified_id, str) and classified_id:
            held = {key: value for key, value in item.items() if key != "classifiedId"}
            return AvivClassifiedCopy(classified_id, held, None)
    raise Refused(_reserved(body, None, duplicate, None)) from duplicate


def _put_onto(
    classified_id: str,
    plan: SyncPlan,
    aviv: AvivPort,
    agency: str | None,
    duplicate: AvivDuplicatedClassified,
    if_match: str | None,
) -> str:
    """PUT onto the classified a Duplicated answer led to; 404 there means the id is reserved."""
    try:
        return aviv.update(classified_id, plan.body, if_match=if_match, intermediary_id=agency).classified_id
    except AvivNotFound as missing:
        raise Refused(_reserved(plan.body, classified_id, duplicate, missing)) from missing


def _reserved(
    body: dict[str, Any],
    classified_id: str | None,
    duplicate: AvivDuplicatedClassified,
    missing: AvivNotFound | None,
) -> Refusal:
    logger.warning(
        "offererEstateId %s is held by classified %s, which vitrine cannot reach",
        offerer_estate_id(body), classified_id,
    )  # fmt: skip
    return reserved_offerer_estate_id(offerer_estate_id(body), classified_id, duplicate, missing)


def offerer_estate_id(body: dict[str, Any]) -> str | None:
    source = body.get("data", {}).get("metaData", {}).get("source", {})
    value = source.get("offererEstateId") if isinstance(source, dict) else None
    return value if isinstance(value, str) and value else None


def _listed(body: dict[str, Any], aviv: AvivPort, agency: str | None) -> list[dict[str, Any]]:
    estate_id = offerer_estate_id(body)
    if estate_id is None:
        return []
    return aviv.find_by_offerer_estate_id(estate_id, intermediary_id=agency)


def find_classified_id(body: dict[str, Any], aviv: AvivPort, agency: str | None) -> str | None:
    """The classified AVIV lists under the body's offererEstateId for ``agency``, if any."""
    for found in _listed(body, aviv, agency):
        classified_id = found.get("classifiedId")
        if isinstance(classified_id, str) and classified_id:
            return classified_id
    return None


def delete_classified(classified_id: str, aviv: AvivPort, agency: str | None, *, moving: bool) -> None:
    """DELETE under ``agency``'s token; 404 means already gone (done); a 400 raises Refused."""
    try:
        aviv.delete(classified_id, intermediary_id=agency)
    except AvivNotFound:
        logger.info("classified %s was already gone from AVIV", classified_id)
    except AvivRejected as refused:
        raise Refused(delete_refused(classified_id, agency, refused, moving=moving)) from refused
