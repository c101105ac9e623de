"""Webhook events: applying a parsed event to the listing's desired state."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support.events import (
    DATA,
    LATER,
    LISTING_ID,
    NOW,
    event,
    ids,
    listing_with,
    media,
    raw,
    sample,
    state_pointers,
    upsert,
)
from vitrine.core.errors import ValidationFailed
from vitrine.core.events.apply import STALE_SEQUENCE, UNKNOWN_MEDIA, ApplyResult, apply_event
from vitrine.core.events.parse import parse_event
from vitrine.core.model import DesiredListing, Media
from vitrine.core.moments import format_moment

# --------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------


def test_upsert_creates_the_listing() -> None:
    result = apply_event(None, upsert(3, [media("m-1", title="Séjour", version="v1"), media("m-2")]), NOW)
    desired = result.desired
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, True, None)
    assert (desired.listing_id, desired.owner_id, desired.version, desired.last_sequence) == (
        LISTING_ID, "agence-marais", 1, 3,
    )  # fmt: skip
    assert desired.portals == ["SL"]
    assert desired.data == DATA and desired.data is not DATA
    assert desired.specific is None
    assert desired.media[0] == Media("m-1", "https://photos.agence-marais.fr/0042/m-1.jpg", "PICTURE",
                                     title="Séjour", version="v1")  # fmt: skip
    assert desired.updated_at == format_moment(NOW)
    assert desired.is_publishable


def test_upsert_replaces_everything() -> None:
    current = apply_event(None, upsert(1, [media("m-1"), media("m-2")], specific={"gsl": {}}), NOW).desired
    result = apply_event(current, upsert(2, [media("m-3")], portals=["BD", "SLN"], specific=...), LATER)
    assert ids(result.desired) == ["m-3"]
    assert result.desired.portals == ["BD", "SLN"]
    assert result.desired.specific is None and current.specific == {"gsl": {}}
    assert result.desired.version == 2


def test_portals_absent_means_default() -> None:
    assert apply_event(None, upsert(portals=...), NOW).desired.portals is None


def test_an_empty_portal_list_is_kept_as_on_no_portal_and_differs_from_absent() -> None:
    nowhere = apply_event(None, upsert(1, portals=[]), NOW)
    assert nowhere.desired.portals == []
    back_to_default = apply_event(nowhere.desired, upsert(2, portals=...), LATER)
    assert back_to_default.desired.portals is None and back_to_default.needs_sync


def test_apply_never_mutates_current() -> None:
    current = listing_with("m-1", "m-2", "m-3", sequence=1)
    snapshot = copy.deepcopy(current)
    for listing_event in (
        upsert(2, [media("m-9")]),
        event("media.added", 2, media=media("m-4"), position=0),
        event("media.updated", 2, media=media("m-2", title="Nouveau titre")),
        event("media.removed", 2, mediaId="m-1"),
        event("media.reordered", 2, order=["m-3", "m-2", "m-1"]),
        event("listing.deleted", 2),
    ):
        result = apply_event(current, listing_event, LATER)
        assert result.changed and result.desired is not current
        assert current == snapshot


def test_same_upsert_twice_is_idempotent() -> None:
    once = apply_event(None, upsert(None, [media("m-1")]), NOW)
    twice = apply_event(once.desired, upsert(None, [media("m-1")]), LATER)
    assert (twice.changed, twice.needs_sync, twice.ignored_reason) == (False, False, None)
    assert twice.desired == once.desired and twice.desired is not once.desired
    assert twice.desired.version == 1 and twice.desired.updated_at == format_moment(NOW)


def test_same_sequenced_upsert_twice_is_stale() -> None:
    once = apply_event(None, upsert(5, [media("m-1")]), NOW)
    twice = apply_event(once.desired, upsert(5, [media("m-1")]), LATER)
    assert (twice.changed, twice.ignored_reason) == (False, STALE_SEQUENCE)
    assert twice.desired == once.desired


def test_stale_sequence_is_ignored() -> None:
    current = listing_with("m-1", "m-2", sequence=10)
    for older in (
        upsert(9, [media("m-9")]),
        event("listing.deleted", 10),
        event("media.removed", 3, mediaId="m-1"),
    ):
        result = apply_event(current, older, LATER)
        assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, STALE_SEQUENCE)
        assert result.desired == current


def test_stale_event_is_ignored_before_state_checks() -> None:
    """A superseded event is judged against a state that no longer exists: drop it, do not refuse it."""
    current = listing_with("m-1", sequence=10)
    result = apply_event(current, event("media.updated", 4, media=media("m-gone")), LATER)
    assert result.ignored_reason == STALE_SEQUENCE


def test_newer_sequence_with_same_content_stores_the_watermark_without_sync() -> None:
    current = listing_with("m-1", sequence=5)
    result = apply_event(current, upsert(7, [media("m-1")]), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, False, None)
    assert (result.desired.last_sequence, result.desired.version) == (7, current.version + 1)
    # ...so a late event 6 cannot overwrite what 7 said.
    late = apply_event(result.desired, upsert(6, [media("m-other")]), LATER)
    assert late.ignored_reason == STALE_SEQUENCE


def test_event_without_sequence_keeps_the_watermark() -> None:
    current = listing_with("m-1", sequence=5)
    result = apply_event(current, event("media.added", None, media=media("m-2")), LATER)
    assert result.changed and result.desired.last_sequence == 5


def test_owner_of_latest_event_wins_and_intermediary_is_kept_when_absent() -> None:
    current = apply_event(
        None, parse_event(raw("listing.deleted", 1, intermediaryId="agency-1")), NOW
    ).desired
    moved = parse_event(raw("media.removed", 2, mediaId="m-x", ownerId="agence-bastille"))
    result = apply_event(current, moved, LATER)
    assert (result.desired.owner_id, result.desired.intermediary_id) == ("agence-bastille", "agency-1")
    assert (result.changed, result.needs_sync, result.ignored_reason) == (True, False, UNKNOWN_MEDIA)
    switched = apply_event(
        result.desired, parse_event(raw("listing.deleted", 3, intermediaryId="agency-2")), LATER
    )
    assert switched.desired.intermediary_id == "agency-2"
    assert switched.needs_sync  # another agency: AVIV calls change


def test_the_owners_locale_is_kept_when_absent_and_a_change_of_it_is_stored_without_a_sync() -> None:
    current = apply_event(None, parse_event(raw("listing.deleted", 1, locale="fr")), NOW).desired
    assert current.locale == "fr"
    silent = apply_event(current, parse_event(raw("media.removed", 2, mediaId="m-x")), LATER)
    assert silent.desired.locale == "fr"
    switched = apply_event(
        silent.desired, parse_event(raw("media.removed", 3, mediaId="m-x", locale="en")), LATER
    )
    assert switched.desired.locale == "en"
    assert (switched.changed, switched.needs_sync) == (True, False)
    same = apply_event(
        switched.desired, parse_event(raw("media.removed", None, mediaId="m-x", locale="en")), LATER
    )
    assert not same.changed


# media.added


def test_media_added_appends_without_position() -> None:
    result = apply_event(listing_with("m-1", "m-2"), event("media.added", media=media("m-3")), LATER)
    assert ids(result.desired) == ["m-1", "m-2", "m-3"]
    assert (result.changed, result.needs_sync, result.desired.version) == (True, True, 2)


@pytest.mark.parametrize(("position", "expected"), [(0, ["new", "m-1", "m-2"]), (1, ["m-1", "new", "m-2"]),
                                                    (2, ["m-1", "m-2", "new"])])  # fmt: skip
def test_media_added_at_position(position: int, expected: list[str]) -> None:
    result = apply_event(
        listing_with("m-1", "m-2"), event("media.added", media=media("new"), position=position), LATER
    )
    assert ids(result.desired) == expected


def test_media_added_position_out_of_range() -> None:
    assert state_pointers(
        listing_with("m-1", "m-2"), event("media.added", media=media("new"), position=3)
    ) == ["/position"]


def test_media_added_with_existing_id() -> None:
    current = listing_with("m-1", "m-2")
    added = event("media.added", media=media("m-2", url="https://photos.agence-marais.fr/0042/autre.jpg"))
    assert state_pointers(current, added) == ["/media/id"]


def test_media_added_with_a_url_aviv_would_be_sent_twice() -> None:
    current = listing_with("m-1")
    url = "https://photos.agence-marais.fr/0042/m-1.jpg?"  # the same URL once the timestamp is added
    assert state_pointers(current, event("media.added", media=media("m-2", url=url))) == ["/media/url"]


def test_media_added_reports_every_state_error() -> None:
    current = listing_with("m-1", "m-2")
    clash = event("media.added", media=media("m-1", url=media("m-2")["url"]), position=9)
    assert state_pointers(current, clash) == ["/media/id", "/media/url", "/position"]


def test_media_added_retried_is_unchanged() -> None:
    current = apply_event(
        listing_with("m-1"), event("media.added", media=media("m-2"), position=0), NOW
    ).desired
    for retry in (
        event("media.added", media=media("m-2"), position=0),
        event("media.added", media=media("m-2")),
    ):
        result = apply_event(current, retry, LATER)
        assert (result.changed, result.ignored_reason) == (False, None)
    assert state_pointers(current, event("media.added", media=media("m-2"), position=1)) == ["/media/id"]


def test_media_added_to_a_new_listing_waits_for_data() -> None:
    result = apply_event(None, event("media.added", 1, media=media("m-1")), NOW)
    assert result.changed and result.desired.data is None and not result.desired.is_publishable
    assert ids(result.desired) == ["m-1"] and result.desired.version == 1


def test_media_events_before_data_then_upsert() -> None:
    desired = apply_event(None, event("media.added", 1, media=media("m-1")), NOW).desired
    desired = apply_event(desired, event("media.added", 2, media=media("m-2"), position=0), NOW).desired
    desired = apply_event(
        desired, event("media.updated", 3, media=media("m-1", title="Vue dégagée")), NOW
    ).desired
    desired = apply_event(desired, event("media.reordered", 4, order=["m-1", "m-2"]), NOW).desired
    assert desired.data is None and ids(desired) == ["m-1", "m-2"] and desired.version == 4
    assert desired.media[0].title == "Vue dégagée"
    synced = apply_event(desired, upsert(5, [media("m-1", title="Vue dégagée"), media("m-2")]), LATER)
    assert synced.desired.data == DATA and synced.desired.is_publishable and synced.desired.version == 5


# media.updated


def test_media_updated_replaces_in_place() -> None:
    new = media(
        "m-2", url="https://photos.agence-marais.fr/0042/m-2-retouche.jpg", category="KITCHEN", version="2"
    )
    result = apply_event(listing_with("m-1", "m-2", "m-3"), event("media.updated", media=new), LATER)
    assert ids(result.desired) == ["m-1", "m-2", "m-3"]
    assert result.desired.media[1] == Media.from_dict(new)
    assert result.needs_sync


def test_media_updated_unknown_media() -> None:
    assert state_pointers(listing_with("m-1"), event("media.updated", media=media("m-9"))) == ["/media/id"]
    assert state_pointers(None, event("media.updated", media=media("m-9"))) == ["/media/id"]


def test_media_updated_url_of_another_media() -> None:
    clash = event("media.updated", media=media("m-2", url=media("m-1")["url"] + "?"))
    assert state_pointers(listing_with("m-1", "m-2"), clash) == ["/media/url"]


def test_media_updated_identical_is_unchanged() -> None:
    result = apply_event(listing_with("m-1"), event("media.updated", media=media("m-1")), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, None)


# media.removed


def test_media_removed() -> None:
    result = apply_event(listing_with("m-1", "m-2", "m-3"), event("media.removed", mediaId="m-2"), LATER)
    assert ids(result.desired) == ["m-1", "m-3"] and result.changed and result.needs_sync


def test_media_removed_unknown_changes_nothing() -> None:
    current = listing_with("m-1")
    result = apply_event(current, event("media.removed", mediaId="m-9"), LATER)
    assert (result.changed, result.needs_sync, result.ignored_reason) == (False, False, UNKNOWN_MEDIA)
    assert result.desired == current
    assert apply_event(None, event("media.removed", mediaId="m-9"), LATER).changed is False


# media.reordered


def test_media_reordered() -> None:
    current = listing_with("m-1", "m-2", "m-3")
    result = apply_event(current, event("media.reordered", order=["m-3", "m-1", "m-2"]), LATER)
    assert ids(result.desired) == ["m-3", "m-1", "m-2"] and result.needs_sync
    assert result.desired.media[0] == current.media[2]


def test_media_reordered_same_order_is_unchanged() -> None:
    result = apply_event(listing_with("m-1", "m-2"), event("media.reordered", order=["m-1", "m-2"]), LATER)
    assert result.changed is False


def test_media_reordered_unknown_id() -> None:
    order = ["m-1", "m-9", "m-2"]
    assert state_pointers(listing_with("m-1", "m-2"), event("media.reordered", order=order)) == ["/order/1"]


def test_media_reordered_missing_id() -> None:
    current = listing_with("m-1", "m-2", "m-3")
    with pytest.raises(ValidationFailed) as caught:
        apply_event(current, event("media.reordered", order=["m-3", "m-1"]), LATER)
    assert [(e.pointer, "m-2" in e.reason) for e in caught.value.errors] == [("/order", True)]


def test_media_reordered_unknown_and_missing() -> None:
    current = listing_with("m-1", "m-2")
    assert state_pointers(current, event("media.reordered", order=["m-1", "m-7"])) == ["/order/1", "/order"]


def test_media_reordered_empty_listing() -> None:
    assert apply_event(listing_with(), event("media.reordered", order=[]), LATER).changed is False
    assert state_pointers(listing_with("m-1"), event("media.reordered", order=[])) == ["/order"]


# listing.deleted


def test_listing_deleted_keeps_the_last_state() -> None:
    current = listing_with("m-1", "m-2", sequence=1)
    result = apply_event(current, event("listing.deleted", 2), LATER)
    assert result.desired.deleted and not result.desired.is_publishable
    assert (result.changed, result.needs_sync) == (True, True)
    assert result.desired.data == DATA and ids(result.desired) == ["m-1", "m-2"]
    again = apply_event(result.desired, event("listing.deleted"), LATER)
    assert again.changed is False


def test_deleted_then_upserted_comes_back() -> None:
    deleted = apply_event(listing_with("m-1", sequence=1), event("listing.deleted", 2), NOW).desired
    media_event = apply_event(deleted, event("media.added", 3, media=media("m-2")), NOW).desired
    assert media_event.deleted and ids(media_event) == ["m-1", "m-2"]
    back = apply_event(media_event, upsert(4, [media("m-1")]), LATER)
    assert back.changed and back.needs_sync and not back.desired.deleted and back.desired.is_publishable
    assert back.desired.version == 4


def test_delete_of_an_unknown_listing_leaves_a_tombstone() -> None:
    """The tombstone holds the sequence, so an older upsert arriving late cannot resurrect the listing."""
    result = apply_event(None, event("listing.deleted", 8), NOW)
    assert result.changed and result.desired.deleted and result.desired.last_sequence == 8
    assert apply_event(result.desired, upsert(7), LATER).ignored_reason == STALE_SEQUENCE


# programming errors and the sample chain


def test_wrong_listing_or_naive_clock_is_a_programming_error() -> None:
    other = DesiredListing(listing_id="other", owner_id="o")
    with pytest.raises(ValueError):
        apply_event(other, event("listing.deleted"), NOW)
    with pytest.raises(ValueError):
        apply_event(None, event("listing.deleted"), datetime(2026, 2, 13, 9, 30))


def test_updated_at_is_the_one_utc_moment_format() -> None:
    paris = datetime(2026, 2, 13, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert (
        apply_event(None, event("listing.deleted"), paris).desired.updated_at == "2026-02-13T09:30:00.000000Z"
    )


def test_sample_chain() -> None:
    desired: DesiredListing | None = None
    results: list[ApplyResult] = []
    for name in ("listing-upserted", "media-added", "media-updated", "media-removed", "media-reordered"):
        results.append(apply_event(desired, parse_event(sample(name)), NOW))
        desired = results[-1].desired
    assert desired is not None
    assert all(r.changed and r.needs_sync for r in results)
    assert ids(desired) == ["med-5502", "med-5501", "med-5506", "med-5503", "med-5505"]
    assert desired.media[0].title == "Séjour retouché : lumière de fin d'après-midi"
    assert (desired.version, desired.last_sequence, desired.intermediary_id) == (
        5, 45, "8f3c2a71-5b4e-4d0a-9c61-2e7f1a9b0c44",
    )  # fmt: skip
    deleted = apply_event(desired, parse_event(sample("listing-deleted")), NOW).desired
    assert deleted.deleted and deleted.data == desired.data
    # Replaying the whole chain changes nothing: every event is stale.
    for name in ("listing-upserted", "media-added", "media-removed", "listing-deleted"):
        assert apply_event(deleted, parse_event(sample(name)), NOW).ignored_reason == STALE_SEQUENCE


def test_a_crm_resend_keeps_the_automatic_retry_version_of_an_unchanged_media() -> None:
    """Reconcile re-stamps a failed photo by versioning it ``v1#retry1``; the CRM re-sending the same
    photo at ``v1`` must not undo that (one more download), while a real new version wins."""
    from dataclasses import replace as dc_replace

    from vitrine.core.events.apply import apply_event
    from vitrine.core.events.parse import parse_event

    def upsert(version: str) -> Any:
        return parse_event(
            {
                "type": "listing.upserted",
                "listingId": "R1",
                "ownerId": "o",
                "occurredAt": "2026-11-27T10:00:00Z",
                "listing": {
                    "data": {"estateType": "HOUSE"},
                    "media": [
                        {
                            "id": "m1",
                            "url": "https://img.example/1.jpg",
                            "mediaType": "PICTURE",
                            "version": version,
                        }
                    ],
                },
            }
        )

    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    first = apply_event(None, upsert("v1"), now).desired
    retried = dc_replace(first, media=[dc_replace(first.media[0], version="v1#retry1")])
    again = apply_event(retried, upsert("v1"), now)
    assert again.desired.media[0].version == "v1#retry1"
    assert not again.needs_sync
    newer = apply_event(retried, upsert("v2"), now)
    assert newer.desired.media[0].version == "v2"
