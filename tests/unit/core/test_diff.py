"""The diff says what AVIV will do with a body, and is a no-op exactly when the body is the last-sent one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.listings import last_sent_of, sample_desired, sample_media
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.diff import ClassifiedDiff, canonical_json, diff_classified, same_json
from vitrine.core.model import DesiredListing, LastSent
from vitrine.core.plan import SyncPlan, plan_sync

T0 = datetime(2026, 2, 13, 9, 25, 57)
T1 = T0 + timedelta(hours=3)
DEFAULTS = ClassifiedDefaults("vitrine", "1.0.0", ("SL",))


def sent(desired: DesiredListing, at: datetime = T0) -> LastSent:
    first = plan_sync(desired, None, None, DEFAULTS, at)
    return last_sent_of(desired, first.body, first.sent_media)


def replan(desired: DesiredListing, last: LastSent, at: datetime = T1) -> SyncPlan:
    plan = plan_sync(desired, last, None, DEFAULTS, at)
    assert plan.diff == diff_classified(last, plan.body, plan.stamped)
    assert_noop_iff_same_body(plan, last)
    return plan


def assert_noop_iff_same_body(plan: SyncPlan, last: LastSent) -> None:
    same_body = plan.body == last.body and canonical_json(plan.body) == canonical_json(last.body)
    assert plan.diff.is_noop == same_body, (plan.diff, same_body)


def only(diff: ClassifiedDiff, **expected: Any) -> None:
    """``diff`` has exactly the ``expected`` non-empty kinds."""
    kinds = {
        "added": (),
        "removed": (),
        "redownloaded": (),
        "moved": (),
        "metadata_changed": (),
        "classified_changed": False,
        "first_send": False,
    }
    kinds.update(expected)
    assert {k: getattr(diff, k) for k in kinds} == kinds


@pytest.fixture
def desired() -> DesiredListing:
    return sample_desired("L-1", 6, media_types=("PICTURE", "VIDEO", "PANORAMA"))


def test_first_send(desired):
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    only(plan.diff, added=tuple(m.id for m in desired.media), classified_changed=True, first_send=True)
    assert not plan.diff.is_noop


def test_first_send_after_a_delete(desired):
    last = replace(sent(desired), deleted=True)
    plan = plan_sync(desired, last, None, DEFAULTS, T1)
    assert plan.diff.first_send and not plan.diff.is_noop
    assert {s.timestamp for s in plan.stamped} == {"2026-02-13T12:25:57"}  # AVIV forgot them: all new


def test_unchanged_listing_is_a_noop(desired):
    last = sent(desired)
    plan = replan(desired, last)
    only(plan.diff)
    assert plan.diff.is_noop
    assert plan.body == last.body
    assert json.dumps(plan.body) == json.dumps(last.body)


def test_taking_a_listing_off_every_portal_is_a_change_and_downloads_nothing(desired):
    last = sent(desired)
    plan = replan(replace(desired, portals=[]), last)
    only(plan.diff, classified_changed=True)
    assert plan.body["portals"] == [] and last.body["portals"] == ["SL"]
    assert replan(replace(desired, portals=[]), sent(replace(desired, portals=[]))).diff.is_noop


def test_added_media(desired):
    last = sent(desired)
    new = sample_media("L-1", 99)
    plan = replan(replace(desired, media=[*desired.media, new]), last)
    only(plan.diff, added=(new.id,))


def test_added_media_at_the_front_moves_the_others(desired):
    last = sent(desired)
    new = sample_media("L-1", 99)
    plan = replan(replace(desired, media=[new, *desired.media]), last)
    only(plan.diff, added=(new.id,), moved=tuple(m.id for m in desired.media))


def test_removed_media(desired):
    last = sent(desired)
    plan = replan(replace(desired, media=desired.media[:-2]), last)
    only(plan.diff, removed=(desired.media[-2].id, desired.media[-1].id))


def test_url_change_is_a_redownload(desired):
    last = sent(desired)
    media = list(desired.media)
    media[2] = replace(media[2], url="https://media.crm.example/replaced.jpg")
    only(replan(replace(desired, media=media), last).diff, redownloaded=(media[2].id,))


def test_version_change_is_a_redownload(desired):
    last = sent(desired)
    media = list(desired.media)
    media[0] = replace(media[0], version="v-new")
    only(replan(replace(desired, media=media), last).diff, redownloaded=(media[0].id,))


def test_reorder_is_a_move_without_redownload(desired):
    last = sent(desired)
    media = list(desired.media)
    media[1], media[4] = media[4], media[1]
    only(replan(replace(desired, media=media), last).diff, moved=(media[1].id, media[4].id))


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Titre modifié"},
        {"title": None},
        {"category": "KITCHEN"},
        {"tags": ("POOL",)},
        {"tags": ()},
        {"media_type": "VIRTUAL_TOUR"},
    ],
)
def test_metadata_change_without_redownload(desired, change):
    last = sent(desired)
    media = list(desired.media)
    assert media[1].title and media[1].tags and media[1].media_type == "PICTURE"
    media[1] = replace(media[1], **change)
    plan = replan(replace(desired, media=media), last)
    only(plan.diff, metadata_changed=(media[1].id,))
    assert plan.body["media"][1]["url"] == last.body["media"][1]["url"]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.data["prices"].update(currency="CHF"),
        lambda d: d.data["location"].update(city="Villeurbanne"),
        lambda d: setattr(d, "portals", ["SL", "BD"]),
        lambda d: setattr(d, "specific", {"iwt": {}}),
        lambda d: d.data["metaData"]["source"].update(offererMarketingKey="MK-2"),
    ],
)
def test_classified_change(change):
    desired = sample_desired("L-1", 3, source={"offererEstateId": "L-1"})
    last = sent(desired)
    changed = replace(desired, data=json.loads(json.dumps(desired.data)))
    change(changed)
    only(replan(changed, last).diff, classified_changed=True)


def test_key_order_is_not_a_change(desired):
    last = sent(desired)
    assert desired.data is not None
    reordered = replace(desired, data=dict(reversed(list(desired.data.items()))))
    assert replan(reordered, last).diff.is_noop


@pytest.mark.parametrize(("before", "after"), [(1, True), (True, 1), (0, False), (-0.0, 0.0)])
def test_json_types_are_not_confused(desired, before, after):
    """``True == 1`` in Python, not in JSON: a CRM fixing 1 into true must reach AVIV."""
    assert desired.data is not None
    desired.data["prices"]["buy"]["isLeaseBuyCombi"] = before
    last = sent(desired)
    changed = replace(desired, data=json.loads(json.dumps(desired.data)))
    assert changed.data is not None
    changed.data["prices"]["buy"]["isLeaseBuyCombi"] = after
    plan = plan_sync(changed, last, None, DEFAULTS, T1)
    only(plan.diff, classified_changed=True)
    assert canonical_json(plan.body) != canonical_json(last.body)


def test_same_json():
    assert same_json({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]})
    assert same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert same_json({"a": (1, 2)}, {"a": [1, 2]})
    assert not same_json({"a": 1}, {"a": 1.0})
    assert not same_json({"a": True}, {"a": 1})
    assert not same_json({"a": [1]}, {"a": [1, 2]})
    assert not same_json({"a": None}, {})


def test_many_changes_at_once(desired):
    last = sent(desired)
    media = list(desired.media)
    added = sample_media("L-1", 50)
    media = [
        replace(media[1], title="Nouveau"),  # moved + metadata
        media[0],  # moved
        replace(media[2], version="v-new"),  # redownloaded
        added,
        media[3],  # moved (after the added one)
        # media[4] removed, media[5] removed
    ]
    assert desired.data is not None
    changed = replace(desired, media=media, data={**desired.data, "estateType": "HOUSE"})
    plan = replan(changed, last)
    only(
        plan.diff,
        added=(added.id,),
        removed=(desired.media[4].id, desired.media[5].id),
        redownloaded=(desired.media[2].id,),
        moved=(desired.media[1].id, desired.media[0].id, desired.media[3].id),
        metadata_changed=(desired.media[1].id,),
        classified_changed=True,
    )
    assert plan.diff.summary() == {
        "first_send": False,
        "classified_changed": True,
        "added": 1,
        "removed": 2,
        "redownloaded": 1,
        "moved": 3,
        "metadata_changed": 1,
        "noop": False,
    }


def test_noop_iff_same_body_over_a_sequence_of_edits():
    """Edit after edit, each sent: ``is_noop`` is exactly "the body is the one AVIV has"."""
    desired = sample_desired("L-1", 8, url_style="mixed", media_types=("PICTURE", "VIDEO"))
    last = sent(desired)
    at = T0
    edits = [
        lambda m: m,
        lambda m: m[::-1],
        lambda m: m[::-1],
        lambda m: [replace(m[0], title="Autre"), *m[1:]],
        lambda m: m,
        lambda m: m[:-1],
        lambda m: [*m, sample_media("L-1", 77)],
        lambda m: [replace(m[0], version="v-x"), *m[1:]],
        lambda m: m,
        lambda m: [replace(m[1], url=m[1].url + "?crop=1"), *m[:1], *m[2:]],
    ]
    media = list(desired.media)
    for edit in edits:
        media = edit(media)
        at += timedelta(milliseconds=300)  # several edits within one second: bumps must keep diffs honest
        plan = plan_sync(replace(desired, media=media), last, None, DEFAULTS, at)
        assert_noop_iff_same_body(plan, last)
        assert plan.is_valid, plan.errors
        last = last_sent_of(desired, plan.body, plan.sent_media)
        again = plan_sync(replace(desired, media=media), last, None, DEFAULTS, at)
        assert again.diff.is_noop and again.body == last.body


def test_new_media_reusing_a_removed_url_in_the_same_second_is_not_a_noop(desired):
    last = sent(desired, T0)
    media = list(desired.media)
    media[0] = replace(media[0], id="brand-new")  # same URL, new media, still T0
    plan = plan_sync(replace(desired, media=media), last, None, DEFAULTS, T0)
    only(plan.diff, added=("brand-new",), removed=(desired.media[0].id,))
    assert plan.body != last.body  # AVIV sees a new timestamp and downloads it


def test_media_key_presence_counts():
    desired = sample_desired("L-1", 0)
    last = sent(desired)
    del last.body["media"]
    plan = replan(desired, last)
    only(plan.diff, classified_changed=True)
