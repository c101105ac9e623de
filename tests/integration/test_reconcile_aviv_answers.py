# The World and its fixtures (make_world, world) are test_reconcile's, imported: the parameters named
# after them are those fixtures, not redefinitions.
# ruff: noqa: F811
"""What AVIV says when it is vague or its clock is off, end to end over HTTP: the sync engine sends to
the AVIV emulator, the emulator reports the status under test (``report_status``) and the reconcile
service polls it, keeps its state in DynamoDB (moto) and publishes to SNS, read by an owner's queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from devtools.aviv_emulator.records import iso
from tests.integration.test_reconcile import EAGER, World, make_world, media_errors, world  # noqa: F401
from vitrine.core.moments import parse_moment


def published(world: World, listing_id: str = "VAGUE-1") -> str:
    """A listing posted and confirmed (CREATED) with nothing told; its classified id."""
    world.new_listing(listing_id)
    outcome = world.sync(listing_id)
    assert outcome.operation == "POST" and outcome.classified_id is not None
    world.run()
    assert world.inbox.kinds() == []
    return str(outcome.classified_id)


def resent(world: World, listing_id: str = "VAGUE-1") -> str:
    """A title-only edit sent as a PUT; the classified id."""
    listing = world.store.load_desired(listing_id)
    assert listing is not None
    media = list(listing.media)
    media[0] = replace(media[0], title="Façade côté rue")
    world.save(replace(listing, media=media))
    outcome = world.sync(listing_id)
    assert outcome.operation == "PUT"
    return str(outcome.classified_id)


def sent_at(world: World, listing_id: str) -> Any:
    last = world.store.load_last_sent(listing_id)
    assert last is not None
    moment = parse_moment(last.sent_at)
    assert moment is not None
    return moment


# ------------------------------------------------------------------------ media errors naming no media


def test_a_media_error_naming_no_media_is_told_once_then_resolved(world: World) -> None:
    classified_id = published(world)
    classified_id = resent(world)
    world.emulator.report_status(classified_id, "UPDATED_WITH_MEDIA_ERROR", mediaStatuses=None)
    for _ in range(3):
        world.run()
    [notification] = media_errors(world.inbox)
    body = notification["body"]
    assert (
        notification["subject"] == "Listing VAGUE-1 has a media problem on SeLoger that AVIV did not locate"
    )
    assert (body["unlocated"], body["media"], body["status"]) == (True, [], "UPDATED_WITH_MEDIA_ERROR")

    world.emulator.report_status(classified_id, "UPDATED")
    world.run()
    world.run()
    assert world.inbox.kinds() == ["media_error", "resolved"]
    resolved = world.inbox.received[-1]["body"]
    assert resolved["id"] == "resolved:" + body["id"]


def test_media_statuses_still_in_progress_are_never_failures(world: World) -> None:
    published(world)
    classified_id = resent(world)
    last = world.store.load_last_sent("VAGUE-1")
    assert last is not None
    statuses = ("ACCEPTED", "DOWNLOADING", "SOMETHING_NEW")
    in_progress = [
        {"url": item["url"], "status": s} for item, s in zip(last.body["media"], statuses, strict=True)
    ]
    world.emulator.report_status(classified_id, "UPDATED_WITH_MEDIA_ERROR", mediaStatuses=in_progress)
    world.run()
    world.run()
    [notification] = media_errors(world.inbox)
    assert notification["body"]["unlocated"] is True and notification["body"]["media"] == []


# ------------------------------------------------------------------------ AVIV's clock


def test_a_status_dated_a_little_before_the_send_confirms_it_and_is_never_stuck(
    make_world: Callable[..., World],
) -> None:
    """AVIV's clock 90 s behind ours; with no revision to go by (its first send), the date decides."""
    world = make_world(replace(EAGER, stuck_after=timedelta(0)))
    world.new_listing("SKEW-1")
    outcome = world.sync("SKEW-1")
    classified_id = str(outcome.classified_id)
    skewed = sent_at(world, "SKEW-1") - timedelta(seconds=90)
    world.emulator.report_status(classified_id, "CREATED", statusDate=iso(skewed), revision=None)
    world.run()
    world.run()
    assert world.inbox.kinds() == []
    assert world.store.load_last_sent("SKEW-1") is not None


def test_a_status_dated_beyond_the_tolerance_before_the_send_is_not_its_answer(
    make_world: Callable[..., World],
) -> None:
    world = make_world(replace(EAGER, stuck_after=timedelta(0)))
    world.new_listing("SKEW-2")
    outcome = world.sync("SKEW-2")
    classified_id = str(outcome.classified_id)
    too_old = sent_at(world, "SKEW-2") - EAGER.clock_tolerance - timedelta(seconds=1)
    world.emulator.report_status(classified_id, "CREATED", statusDate=iso(too_old), revision=None)
    world.run()
    assert world.inbox.kinds() == ["stuck"]


# ------------------------------------------------------------------------ quality warnings


def test_quality_warnings_reach_the_owner_once_per_set_and_are_resolved(world: World) -> None:
    listing = world.new_listing("QUALITY-1")
    media = list(listing.media)
    media[0] = replace(media[0], category="FLOOR_PLAN", tags=())
    world.save(replace(listing, media=media))
    world.sync("QUALITY-1")
    for _ in range(3):
        world.run()
    [notification] = world.inbox.drain()
    body = notification["body"]
    assert notification["attributes"]["kind"] == "quality_warning"
    assert [(w["code"], w["mediaId"]) for w in body["warnings"]] == [("poor_first_picture", media[0].id)]

    retitled = world.store.load_desired("QUALITY-1")
    assert retitled is not None
    media = list(retitled.media)
    media[1] = replace(media[1], title="Autre titre")
    world.save(replace(retitled, media=media))
    world.sync("QUALITY-1")
    world.run()
    assert world.inbox.drain() == []  # the same set after another send: not told again

    media[0] = replace(media[0], category="LIVING_ROOM")
    world.save(replace(retitled, media=media))
    world.sync("QUALITY-1")
    world.run()
    world.run()
    [resolved] = world.inbox.drain()
    assert resolved["body"]["kind"] == "resolved" and resolved["body"]["id"] == "resolved:" + body["id"]
