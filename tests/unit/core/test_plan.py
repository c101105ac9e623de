"""plan_sync: timestamps, body, validation, warnings and diff in one deterministic step."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

from tests.support.listings import last_sent_of, sample_desired, sample_media
from vitrine.core.builder import ClassifiedDefaults, build_classified
from vitrine.core.diff import diff_classified
from vitrine.core.plan import SyncPlan, plan_sync
from vitrine.core.timestamps import assign_timestamps, format_timestamp, sent_media_records
from vitrine.core.validation import validate_classified

T0 = datetime(2026, 2, 13, 9, 25, 57)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(minutes=9)
DEFAULTS = ClassifiedDefaults("vitrine", "1.0.0", ("SL",))


def test_plan_is_the_composition_of_the_steps():
    desired = sample_desired("L-1", 12, "RENT", url_style="mixed", media_types=("PICTURE", "VIDEO"))
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    stamped = assign_timestamps(desired.media, {}, {}, T0)
    body = build_classified(desired, stamped, DEFAULTS)
    assert isinstance(plan, SyncPlan)
    assert plan.stamped == tuple(stamped)
    assert plan.body == body
    assert plan.sent_media == tuple(sent_media_records(stamped))
    assert plan.diff == diff_classified(None, body, stamped)
    assert plan.errors == () and plan.is_valid
    assert list(plan.errors) == validate_classified(body)


def test_plan_is_deterministic():
    desired = sample_desired("L-1", 30, url_style="mixed")
    first = plan_sync(desired, None, None, DEFAULTS, T0)
    second = plan_sync(desired, None, None, DEFAULTS, T0)
    assert first == second
    assert json.dumps(first.body) == json.dumps(second.body)


def test_retry_after_a_crash_rebuilds_the_identical_body():
    desired = sample_desired("L-1", 5)
    first = plan_sync(desired, None, None, DEFAULTS, T0)
    last = last_sent_of(desired, first.body, first.sent_media)
    media = list(desired.media)
    media[2] = replace(media[2], version="v-edited")
    media.append(sample_media("L-1", 40))
    edited = replace(desired, media=media, version=2)
    attempt = plan_sync(edited, last, None, DEFAULTS, T1)
    pending = last_sent_of(edited, attempt.body, attempt.sent_media)  # written ahead; the answer was lost
    retry = plan_sync(edited, last, pending, DEFAULTS, T2)
    assert retry.body == attempt.body
    assert json.dumps(retry.body) == json.dumps(attempt.body)
    assert retry.sent_media == attempt.sent_media
    assert retry.diff == attempt.diff
    assert retry.stamped[2].timestamp == format_timestamp(T1)
    assert retry.stamped[0].timestamp == format_timestamp(T0)


def test_pending_of_an_older_edit_does_not_leak_into_a_newer_one():
    desired = sample_desired("L-1", 2)
    first = plan_sync(desired, None, None, DEFAULTS, T0)
    last = last_sent_of(desired, first.body, first.sent_media)
    older = replace(desired, media=[replace(desired.media[0], version="v-older"), desired.media[1]])
    attempt = plan_sync(older, last, None, DEFAULTS, T1)
    pending = last_sent_of(older, attempt.body, attempt.sent_media)
    newer = replace(desired, media=[replace(desired.media[0], version="v-newer"), desired.media[1]])
    plan = plan_sync(newer, last, pending, DEFAULTS, T2)
    assert plan.stamped[0].timestamp == format_timestamp(T2)
    assert plan.stamped[1].timestamp == format_timestamp(T0)


def test_duplicated_media_ids_are_errors():
    desired = sample_desired("L-1", 3)
    desired.media[2] = replace(desired.media[2], id=desired.media[0].id)
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    assert not plan.is_valid
    assert [e.pointer for e in plan.errors] == ["/media/2/id"]


def test_duplicated_urls_are_errors():
    desired = sample_desired("L-1", 3)
    desired.media[2] = replace(desired.media[2], url=desired.media[0].url + "?timestamp=2020-01-01T00:00:00")
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    assert [e.pointer for e in plan.errors] == ["/media/2/url"]
    assert "same as /media/0" in plan.errors[0].reason


def test_invalid_listing_is_planned_with_its_errors():
    desired = replace(sample_desired("L-1", 2), data=None)
    desired.media[1] = replace(desired.media[1], title=" ", category="ROOF")
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    assert not plan.is_valid
    assert [e.pointer for e in plan.errors] == [
        "/data/estateType",
        "/data/distributionType",
        "/data/prices",
        "/data/location",
        "/media/1/category",
        "/media/1/title",
    ]


def test_warnings_are_reported_and_never_reorder():
    media = [
        sample_media("L-1", 0, category="FLOOR_PLAN"),
        sample_media("L-1", 1, "VIDEO"),
        sample_media("L-1", 2, "VIDEO"),
        sample_media("L-1", 3, category="COVER_PICTURE"),
    ]
    plan = plan_sync(sample_desired("L-1", media=media), None, None, DEFAULTS, T0)
    assert plan.is_valid
    assert [(w.code, w.pointer) for w in plan.warnings] == [
        ("poor_first_picture", "/media/0"),
        ("extra_video", "/media/2"),
        ("cover_not_first", "/media/3"),
    ]
    assert [item["url"] for item in plan.body["media"]] == [s.aviv_url for s in plan.stamped]
    assert [s.media for s in plan.stamped] == media


def test_steady_state_is_a_noop_that_reuses_the_last_records():
    desired = sample_desired("L-1", 300, url_style="mixed")
    first = plan_sync(desired, None, None, DEFAULTS, T0)
    last = last_sent_of(desired, first.body, first.sent_media)
    plan = plan_sync(desired, last, None, DEFAULTS, T1)
    assert plan.diff.is_noop and plan.body == last.body
    assert all(new is old for new, old in zip(plan.sent_media, last.media, strict=True))


def test_large_listing_plans_every_media():
    desired = sample_desired("L-1", 1000, url_style="mixed", media_types=("PICTURE", "PANORAMA"))
    plan = plan_sync(desired, None, None, DEFAULTS, T0)
    assert plan.is_valid
    assert len(plan.body["media"]) == len(plan.sent_media) == 1000
    assert [r.position for r in plan.sent_media] == list(range(1000))
