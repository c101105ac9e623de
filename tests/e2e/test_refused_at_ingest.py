"""A listing AVIV would refuse is refused when the CRM sends it, not hours later; warnings come back
with the 202. Through the whole local stack: the real ingest handler behind the API Gateway stand-in,
moto's server, and the AVIV emulator, which validates bodies against the official OpenAPI file."""

from __future__ import annotations

import threading

from tests.e2e.support import Stack, envelope, media, upsert

REFUSED_LISTING = "REFUSED-1"


def test_a_listing_avivs_schema_refuses_gets_422_naming_every_field_and_reaches_neither_store_nor_aviv(
    stack: Stack,
) -> None:
    event = upsert(stack, REFUSED_LISTING, 2)
    data = event["listing"]["data"]
    data["prices"]["buy"]["price"]["amount"] = "420000"
    data["estateType"] = "CASTLE"
    data["energy"] = {"countrySpecific": {"fr": {"energyCertificate": {"efficiencyClass": "H"}}}}
    data["elevator"] = True
    before = stack.table_snapshot()
    calls_before = len(stack.emulator.requests())

    response = stack.post(event)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == "AVIV would refuse the listing this event produces; nothing was changed"
    assert {error["pointer"]: error["reason"] for error in problem["errors"]} == {
        "/listing/data/elevator": "unknown property 'elevator'",
        "/listing/data/energy/countrySpecific/fr/energyCertificate/efficiencyClass": (
            "must be one of: A, B, C, D, E, F, G"
        ),
        "/listing/data/estateType": (
            "must be one of: HOUSE, APARTMENT, PLOT, OFFICE, TRADING, GASTRONOMY_HOTEL, "
            "STORAGE_PRODUCTION, AGRICULTURE_FORESTRY, PARKING, SENIOR, PROJECT, MISCELLANEOUS"
        ),
        "/listing/data/prices/buy/price/amount": "must be a number",
    }
    # Give a (wrong) sync every chance to happen: past the consolidation window of the stack (1 s).
    threading.Event().wait(2.5)
    assert stack.table_snapshot() == before, "nothing was stored"
    assert len(stack.emulator.requests()) == calls_before, "nothing was sent to AVIV"


def test_a_signed_media_url_with_its_own_timestamp_gets_422_naming_its_url(stack: Stack) -> None:
    listing = "SIGNED-1"
    event = upsert(stack, listing, 2)
    event["listing"]["media"][1]["url"] += "?X-Expires=1770971157&timestamp=1770967557&sig=c2ln"
    before = stack.table_snapshot()

    response = stack.post(event)

    assert response.status_code == 422
    assert [error["pointer"] for error in response.json()["errors"]] == ["/listing/media/1/url"]
    assert stack.table_snapshot() == before


def test_a_second_video_is_accepted_with_a_warning_and_the_listing_is_sent(stack: Stack) -> None:
    listing = "VIDEOS-1"
    event = upsert(stack, listing, 2)
    event["listing"]["media"] += [
        media(stack, listing, n, mediaType="VIDEO", url=stack.media_url(f"{listing}/visite-{n}.mp4"))
        for n in (2, 3)
    ]

    response = stack.post(event)

    assert response.status_code == 202
    assert response.json()["warnings"] == [
        {
            "code": "extra_video",
            "pointer": "/listing/media/3",
            "reason": f"only the first video (media '{listing}-m2') is displayed by the portals",
        }
    ]
    stack.wait_synced(listing)
    posts = [
        call
        for call in stack.aviv_calls("POST")
        if call.body["data"]["metaData"]["source"]["offererEstateId"] == listing
    ]
    assert len(posts) == 1 and len(posts[0].body["media"]) == 4, "a warning never blocks the send"


def test_a_media_event_gets_the_warning_it_causes_at_its_own_media(stack: Stack) -> None:
    listing = "VIDEOS-2"
    first = media(stack, listing, 1, mediaType="VIDEO", url=stack.media_url(f"{listing}/visite-1.mp4"))
    assert stack.post(envelope("media.added", listing, media=first)).json()["warnings"] == []
    second = media(stack, listing, 2, mediaType="VIDEO", url=stack.media_url(f"{listing}/visite-2.mp4"))

    response = stack.post(envelope("media.added", listing, media=second))

    assert response.status_code == 202
    assert [(w["code"], w["pointer"]) for w in response.json()["warnings"]] == [("extra_video", "/media")]
