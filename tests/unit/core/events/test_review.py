"""The listing an event produces is reviewed as sync will send it, and every finding is named where
the CRM put the value: in the webhook body when the event carried it, else as the stored field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from tests.support.classified_samples import DEFAULTS
from tests.support.events import LATER, NOW, media, raw, sample
from vitrine.core.errors import FieldError
from vitrine.core.events.apply import apply_event
from vitrine.core.events.parse import parse_event
from vitrine.core.events.review import ListingReview, classified_for, review_listing
from vitrine.core.events.vocabulary import ListingEvent
from vitrine.core.model import DesiredListing, Media
from vitrine.core.plan import plan_sync

UPSERT = sample("listing-upserted")
STORED_LISTING_ID = UPSERT["listingId"]


def review_of(current: DesiredListing | None, listing_event: ListingEvent) -> ListingReview:
    produced = apply_event(current, listing_event, LATER).desired
    return review_listing(listing_event, produced, DEFAULTS, LATER)


def upserted(**data_changes: Any) -> ListingEvent:
    """The sample upsert with ``data`` changed: a key set to ``...`` is removed."""
    body = copy.deepcopy(UPSERT)
    for path, value in data_changes.items():
        *parents, last = path.split("__")
        node = body["listing"]["data"]
        for key in parents:
            node = node.setdefault(key, {})
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return parse_event(body)


def stored() -> DesiredListing:
    return apply_event(None, parse_event(UPSERT), NOW).desired


def sample_event(event_type: str, **fields: Any) -> ListingEvent:
    """An event on the sample listing (``raw`` is for another listing id)."""
    return parse_event({**raw(event_type, **fields), "listingId": STORED_LISTING_ID})


def unchecked(event_type: str, payload: dict[str, Any]) -> ListingEvent:
    """An event as parse_event builds it, without its checks: media AVIV's schema alone refuses."""
    return ListingEvent(
        type=event_type,
        listing_id=STORED_LISTING_ID,
        owner_id="agence-presquile-lyon",
        occurred_at=datetime(2026, 2, 13, 9, 0, tzinfo=UTC),
        sequence=None,
        intermediary_id=None,
        payload=MappingProxyType(payload),
    )


def pointers(review: ListingReview) -> list[str]:
    return [error.pointer for error in review.errors]


# --- listing.upserted: /listing + the classified's pointer ---------------------------------------


def test_a_valid_listing_has_no_error() -> None:
    assert review_of(None, parse_event(UPSERT)).errors == ()


def test_a_price_as_a_string_is_named_in_the_webhook_body() -> None:
    review = review_of(None, upserted(prices__buy__price__amount="685000"))
    assert review.errors == (FieldError("/listing/data/prices/buy/price/amount", "must be a number"),)


def test_every_error_is_reported_at_once_with_avivs_reason() -> None:
    review = review_of(
        None,
        upserted(
            prices__buy__price__amount="685000",
            estateType="CASTLE",
            energy__countrySpecific__fr__energyCertificate__efficiencyClass="H",
            surprise={"x": 1},
            location__city=...,
        ),
    )
    reasons = {error.pointer: error.reason for error in review.errors}
    assert sorted(reasons) == [
        "/listing/data/energy/countrySpecific/fr/energyCertificate/efficiencyClass",
        "/listing/data/estateType",
        "/listing/data/location/city",
        "/listing/data/prices/buy/price/amount",
        "/listing/data/surprise",
    ]
    assert reasons["/listing/data/energy/countrySpecific/fr/energyCertificate/efficiencyClass"] == (
        "must be one of: A, B, C, D, E, F, G"
    )
    assert reasons["/listing/data/estateType"].startswith("must be one of: HOUSE, APARTMENT")
    assert reasons["/listing/data/location/city"] == "is required"
    assert reasons["/listing/data/surprise"] == "unknown property 'surprise'"


def test_specific_is_checked_too() -> None:
    body = copy.deepcopy(UPSERT)
    body["listing"]["specific"] = {"nonsense": True}
    assert pointers(review_of(None, parse_event(body))) == ["/listing/specific/nonsense"]


def test_what_vitrine_fills_in_is_checked_where_the_crm_would_set_it() -> None:
    body = copy.deepcopy(UPSERT)
    del body["listing"]["data"]["metaData"]  # vitrine fills metaData.source from settings
    assert review_of(None, parse_event(body)).errors == ()
    body["listing"]["data"]["metaData"] = {"source": {"offererEstateId": 417}}
    # offererMarketingKey defaults to offererEstateId: both are wrong, both where the CRM sets them.
    assert pointers(review_of(None, parse_event(body))) == [
        "/listing/data/metaData/source/offererEstateId",
        "/listing/data/metaData/source/offererMarketingKey",
    ]


def test_a_media_error_of_an_upsert_points_at_its_media() -> None:
    listing = dict(UPSERT["listing"])
    listing["media"] = [
        {**item, "mediaType": "AUDIO"} if i == 1 else item for i, item in enumerate(listing["media"])
    ]
    review = review_of(None, unchecked("listing.upserted", {"listing": listing}))
    assert pointers(review) == ["/listing/media/1/mediaType"]


# --- media events: the event's own media, or the listing as stored -------------------------------


def test_the_media_a_media_event_brings_is_pointed_at_in_the_event() -> None:
    bad = {**media("m-9"), "mediaType": "AUDIO"}
    review = review_of(stored(), unchecked("media.added", {"media": bad, "position": 0}))
    assert pointers(review) == ["/media/mediaType"]
    assert review.errors[0].reason.startswith("must be one of: PICTURE")


def test_an_error_in_a_stored_media_names_it_and_says_how_to_fix_it() -> None:
    current = stored()
    current.media[2] = Media(id="med-5503", url="https://photos.example/x.jpg", media_type="AUDIO")
    review = review_of(current, sample_event("media.removed", mediaId="med-5501"))
    assert len(review.errors) == 1
    error = review.errors[0]
    assert error.pointer == ""
    assert "media 'med-5503' as stored, at /listing/media/1/mediaType: must be one of" in error.reason
    assert "media.updated" in error.reason


def test_an_error_in_the_stored_data_names_the_field_a_listing_upserted_carries() -> None:
    current = stored()
    assert current.data is not None
    current.data["prices"]["buy"]["price"]["amount"] = "685000"  # accepted before ingest checked it
    review = review_of(current, sample_event("media.added", media=media("m-9")))
    assert review.errors == (
        FieldError(
            "",
            "the listing as stored, at /listing/data/prices/buy/price/amount: must be a number "
            "(send a listing.upserted that fixes it)",
        ),
    )


def test_a_listing_without_data_yet_is_checked_for_its_media_only() -> None:
    early = sample_event("media.added", media=media("m-1"))
    assert review_of(None, early) == ListingReview()
    bad = unchecked("media.added", {"media": {**media("m-2"), "tags": ["SUNSET"]}})
    without_data = apply_event(None, early, NOW).desired
    assert pointers(review_of(without_data, bad)) == ["/media/tags/0"]


def test_deleting_is_never_refused_and_a_deleted_listing_is_not_reviewed() -> None:
    current = stored()
    assert current.data is not None
    current.data["estateType"] = "CASTLE"
    deleted = sample_event("listing.deleted")
    assert review_of(current, deleted) == ListingReview()
    gone = apply_event(current, deleted, LATER).desired
    video = media("v-1", mediaType="VIDEO")
    assert review_of(gone, sample_event("media.added", media=video)) == ListingReview()


# --- quality warnings -----------------------------------------------------------------------------


def warnings_of(review: ListingReview) -> list[tuple[str, str]]:
    return [(warning.code, warning.pointer) for warning in review.warnings]


def video(media_id: str) -> dict[str, Any]:
    return media(media_id, mediaType="VIDEO", url=f"https://videos.example/{media_id}.mp4")


def test_a_second_video_in_an_upsert_is_a_warning_at_its_place() -> None:
    body = copy.deepcopy(UPSERT)
    body["listing"]["media"] += [video("v-1"), video("v-2")]
    review = review_of(None, parse_event(body))
    assert review.errors == ()
    assert warnings_of(review) == [("extra_video", "/listing/media/6")]
    assert review.warnings[0].message == "only the first video (media 'v-1') is displayed by the portals"


def test_a_second_video_added_is_the_events_media() -> None:
    current = apply_event(stored(), sample_event("media.added", media=video("v-1")), NOW).desired
    review = review_of(current, sample_event("media.added", media=video("v-2")))
    assert warnings_of(review) == [("extra_video", "/media")]


def test_a_video_added_before_the_first_one_makes_the_stored_one_second() -> None:
    current = apply_event(stored(), sample_event("media.added", media=video("v-1")), NOW).desired
    review = review_of(current, sample_event("media.added", media=video("v-0"), position=0))
    assert warnings_of(review) == [("extra_video", "")]
    assert review.warnings[0].message.startswith("media 'v-1', now at /listing/media/")
    assert "only the first video (media 'v-0')" in review.warnings[0].message


def test_a_reorder_that_puts_a_plan_first_points_at_the_order_entry() -> None:
    ids = [item["id"] for item in UPSERT["listing"]["media"]]
    plan_first = ["med-5504", *(media_id for media_id in ids if media_id != "med-5504")]
    review = review_of(stored(), sample_event("media.reordered", order=plan_first))
    assert warnings_of(review) == [("poor_first_picture", "/order/0")]


def test_a_removal_that_leaves_a_plan_first_names_the_stored_media() -> None:
    current = stored()
    current.media = [current.media[3], *current.media[:3]]  # the plan second, behind the facade
    review = review_of(current, sample_event("media.removed", mediaId="med-5501"))
    assert warnings_of(review) == [("poor_first_picture", "")]
    assert review.warnings[0].message.startswith("media 'med-5504', now at /listing/media/0: the first")


# --- the classified reviewed is the one sync sends -------------------------------------------------


def test_the_classified_checked_is_the_body_a_first_sync_sends() -> None:
    listing = stored()
    assert classified_for(listing, DEFAULTS, LATER) == plan_sync(listing, None, None, DEFAULTS, LATER).body
    assert all(
        "?timestamp=" in m["url"] or "&timestamp=" in m["url"]
        for m in classified_for(listing, DEFAULTS, LATER)["media"]
    )
