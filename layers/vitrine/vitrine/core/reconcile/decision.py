"""What a reconcile decision is: the state to store, the watch update and the media to re-stamp."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from vitrine.core.reconcile.aviv_status import FailedMedia, StatusReading
from vitrine.core.reconcile.records import ListingContext, Notification, StatusState


@dataclass(frozen=True, slots=True)
class WatchUpdate:
    """What to do with the watch entry of the send: look again at ``due``, or stop (None)."""

    due: datetime | None

    @property
    def stop(self) -> bool:
        return self.due is None


@dataclass(frozen=True)
class Decision:
    """The outcome of reconciling one listing: the state to store (with ``notifications`` in its
    outbox), the watch update, and the media to re-stamp (automatic retry)."""

    state: StatusState
    notifications: tuple[Notification, ...]
    watch: WatchUpdate
    retry_media: tuple[FailedMedia, ...] = ()
    reading: StatusReading | None = None


def decided(
    state: StatusState,
    notifications: list[Notification],
    watch: WatchUpdate,
    retry_media: Sequence[FailedMedia] = (),
    reading: StatusReading | None = None,
) -> Decision:
    """The decision, with its notifications put in the state's outbox (published, then removed)."""
    state.outbox.extend(notifications)
    return Decision(
        state=state,
        notifications=tuple(notifications),
        watch=watch,
        retry_media=tuple(retry_media),
        reading=reading,
    )


def take_owner(state: StatusState, context: ListingContext) -> None:
    """The listing's owner as the CRM last named it (a context without one keeps the stored one)."""
    if context.owner_id:
        state.owner_id = context.owner_id
