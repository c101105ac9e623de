"""AVIV's status objects: the steps a call goes through, their wording, the polled form
(``ClassifiedStatusInternal``) and the pushed form (exactly ``ClassifiedStatus``)."""

from __future__ import annotations

import uuid
from typing import Any

from devtools.aviv_emulator.records import Classified, iso, now

# What AVIV is doing with a call between RECEIVED and its final status, per verb.
PROCESSING_STATUS = {"POST": "CREATING", "PUT": "UPDATING", "DELETE": "DELETING"}
# The properties of the spec's ClassifiedStatus: a push carries these and nothing else.
PUSHED_PROPERTIES = (
    "portals",
    "status",
    "message",
    "subStatus",
    "subStatusDetails",
    "statusDate",
    "mediaStatuses",
)

_MESSAGES = {
    "RECEIVING": "The classified is being received in our system.",
    "RECEIVED": "The classified has successfully been transmitted to the next steps.",
    "RECEIVING_FAILED": "The classified could not be received in our system.",
    "CREATING": "The classified is being created in our system.",
    "CREATED": "The classified has successfully been created in our system.",
    "CREATED_WITH_MEDIA_ERROR": "The classified has been created but some media failed to be processed.",
    "CREATING_FAILED": "The classified could not be created in our system.",
    "UPDATING": "The classified is being updated in our system.",
    "UPDATED": "The classified has successfully been updated in our system.",
    "UPDATED_WITH_MEDIA_ERROR": "The classified has been updated but some media failed to be processed.",
    "UPDATING_FAILED": "The classified could not be updated in our system.",
    "DELETING": "The classified is being deleted from our system.",
    "DELETED": "The classified has successfully been deleted in our system.",
    "DELETING_FAILED": "The classified could not be deleted from our system.",
}
# The spec's subStatus enum only covers the receiving step: RECEIVING_POST, RECEIVED_PUT, ...
_RECEIVING_STEP = ("RECEIVING", "RECEIVED", "RECEIVING_FAILED")


def new_status(
    classified: Classified,
    name: str,
    *,
    kind: str,
    revision: int,
    body: dict[str, Any],
    media_statuses: list[dict[str, str]] | None = None,
    details: str | None = None,
) -> dict[str, Any]:
    """A status as ``GET …/statuses`` lists it (``ClassifiedStatusInternal``)."""
    status: dict[str, Any] = {
        "statusId": str(uuid.uuid4()),
        "classifiedId": classified.classified_id,
        "customerId": classified.customer_id,
        "creationDate": iso(classified.created_at),
        "revision": revision,
        "portals": list(body.get("portals") or []),
        "status": name,
        "message": _MESSAGES[name],
        "statusDate": iso(now()),
    }
    if name in _RECEIVING_STEP:
        status["subStatus"] = f"{name}_{kind}"
    if details is not None:
        status["subStatusDetails"] = details
    status["mediaStatuses"] = media_statuses or []
    return status


def pushed_body(status: dict[str, Any]) -> dict[str, Any]:
    """What a webhook push carries: the spec's ``ClassifiedStatus``, without the polled-only fields
    (statusId, classifiedId, customerId, creationDate, revision)."""
    return {name: status[name] for name in PUSHED_PROPERTIES if name in status}
