"""Refusals vitrine cannot fix by itself, worded for the owner: AVIV's words and what to do.

A refusal ends a sync as a recorded rejection (``StateStore.record_rejection``): that version is
not sent again, reconcile tells the owner once (``sync_rejected``), and the next change of the
listing is synced normally. Retrying instead would only loop until the dead-letter queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitrine.core.errors import AvivError, AvivRejected, FieldError, VitrineError

OFFERER_ESTATE_ID_POINTER = "/data/metaData/source/offererEstateId"
NOT_RETRIED = "vitrine will not send this listing again until it changes."
FIX_THE_FIELDS = "Fix the fields listed in the CRM and save the listing: the next change is sent."


@dataclass(frozen=True)
class Refusal:
    """What to record: each field at fault, AVIV's words (``detail``), and what to do (``action``)."""

    errors: tuple[FieldError, ...]
    detail: str
    action: str | None = None
    traceparent: str | None = None


class Refused(VitrineError):
    """Raised by the AVIV write steps when AVIV refused for good; the sync records ``refusal``."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


def aviv_words(error: AvivError) -> str:
    """AVIV's own detail (or title) of a refusal, else the error's summary."""
    problem = error.problem
    if problem is not None:
        words = problem.detail or problem.title
        if words:
            return words
    return str(error)


def _field_errors(error: AvivError) -> tuple[FieldError, ...]:
    """AVIV's ``errors: [{name: <JSON pointer>, reason}]`` as FieldErrors."""
    problem = error.problem
    if problem is None:
        return ()
    return tuple(
        FieldError(str(item.get("name") or ""), str(item.get("reason") or ""))
        for item in problem.errors
        if item.get("name") or item.get("reason")
    )


def body_refused(error: AvivRejected) -> Refusal:
    """AVIV refused the body of a POST/PUT (400): the fields it names are the CRM's to fix."""
    return Refusal(_field_errors(error), aviv_words(error), FIX_THE_FIELDS, error.traceparent)


def reserved_offerer_estate_id(
    offerer_estate_id: str | None, classified_id: str | None, duplicate: AvivError, missing: AvivError | None
) -> Refusal:
    """AVIV answers "Duplicated classified" for this offererEstateId, but the classified it names
    cannot be read or updated (404: deleted, or another agency's), or it names none and none is
    listed: the id is held by a classified vitrine cannot reach. Only AVIV, or a new id, can help."""
    named = f"classified {classified_id}" if classified_id else "a classified AVIV does not name"
    reason = f"AVIV keeps this offererEstateId for {named}, which vitrine cannot reach"
    if missing is not None:
        reason += f" ({aviv_words(missing)})"
    action = (
        f"Ask AVIV support to release offererEstateId {offerer_estate_id!r} (held by {named}, "
        "deleted or belonging to another agency), or give the listing a new offererEstateId "
        f"(data.metaData.source.offererEstateId) in the CRM; {NOT_RETRIED}"
    )
    return Refusal(
        (FieldError(OFFERER_ESTATE_ID_POINTER, reason),),
        aviv_words(duplicate),
        action,
        duplicate.traceparent,
    )


def delete_refused(classified_id: str, agency: str | None, error: AvivRejected, *, moving: bool) -> Refusal:
    """AVIV refused a DELETE (400): the classified stays on the portals until AVIV deletes it."""
    where = f" under agency {agency}" if agency else ""
    why = "the listing moved to another agency" if moving else "the listing was deleted in the CRM"
    action = (
        f"Classified {classified_id}{where} is still online although {why}. Ask AVIV support to "
        f"delete it (quote the traceparent {error.traceparent or 'of the logs'}); {NOT_RETRIED}"
    )
    return Refusal(_field_errors(error), aviv_words(error), action, error.traceparent)
