"""Reading AVIV's statuses: which status answers our send, and which media it says failed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.unit.core.reconcile.scenarios import (
    POLICY,
    T0,
    decide,
    fresh,
    photo_url,
    sent,
    status,
)
from vitrine.core.reconcile.aviv_status import interpret_status, map_failed_media, roll_to_send


def test_failed_media_are_mapped_back_by_url() -> None:
    last = sent(count=4)
    failed = map_failed_media(
        status("UPDATED_WITH_MEDIA_ERROR", failed={1: "DOWNLOADING_FAILED", 2: "CREATING_FAILED"})[
            "mediaStatuses"
        ],
        last,
    )
    assert [(f.media_id, f.url, f.title, f.position, f.status) for f in failed] == [
        ("m1", photo_url(1), "Séjour 1", 1, "DOWNLOADING_FAILED"),
        ("m2", photo_url(2), None, 2, "CREATING_FAILED"),
    ]


def test_a_url_echoed_with_another_timestamp_still_maps_and_an_unknown_one_is_kept() -> None:
    last = sent()
    entries = [
        {"url": f"{photo_url(0)}?timestamp=2020-01-01T00:00:00", "status": "DOWNLOADING_FAILED"},
        {"url": "https://elsewhere.example/x.jpg", "status": "DOWNLOADING_FAILED"},
        {"url": photo_url(1), "status": "DOWNLOADING"},  # an unknown media status: tolerated, ignored
    ]
    failed = map_failed_media(entries, last)
    assert [(f.media_id, f.url) for f in failed] == [("m0", photo_url(0)), (None, None)]


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("CREATED", "confirmed"),
        ("UPDATED", "confirmed"),
        ("UPDATED_WITH_MEDIA_ERROR", "media_error"),
        ("CREATED_WITH_MEDIA_ERROR", "media_error"),
        ("UPDATING_FAILED", "classified_error"),
        ("CREATING_FAILED", "classified_error"),
        ("RECEIVING_FAILED", "classified_error"),
        ("RECEIVED", "processing"),
        ("UPDATING", "processing"),
        ("SOMETHING_NEW", "processing"),
        ("DELETED", "classified_error"),
    ],
)
def test_statuses_are_classified(name: str, outcome: str) -> None:
    reading = interpret_status(status(name), sent(), fresh(), POLICY)
    assert reading.outcome == outcome
    assert reading.ours


def test_a_deletion_is_confirmed_only_by_deleted() -> None:
    tombstone = sent(deleted=True)
    assert interpret_status(status("DELETED"), tombstone, fresh(), POLICY).outcome == "confirmed"
    assert interpret_status(status("UPDATED"), tombstone, fresh(), POLICY).outcome == "processing"
    assert (
        interpret_status(status("DELETING_FAILED"), tombstone, fresh(), POLICY).outcome == "classified_error"
    )


def test_a_status_older_than_our_send_beyond_the_clock_tolerance_is_not_our_answer() -> None:
    assert POLICY.clock_tolerance == timedelta(minutes=5)
    older = status("UPDATED", at=T0 - timedelta(minutes=5, seconds=1))
    reading = interpret_status(older, sent(), fresh(), POLICY)
    assert (reading.outcome, reading.ours, reading.note) == (
        "processing",
        False,
        "the status is older than our send",
    )


def test_a_status_dated_up_to_the_clock_tolerance_before_our_send_is_ours() -> None:
    """AVIV's clock may run minutes behind ours: the boundary itself still answers our send."""
    at_the_boundary = status("UPDATED", at=T0 - timedelta(minutes=5))
    reading = interpret_status(at_the_boundary, sent(), fresh(), POLICY)
    assert (reading.outcome, reading.ours) == ("confirmed", True)


def test_the_clock_tolerance_is_a_policy_value() -> None:
    strict = replace(POLICY, clock_tolerance=timedelta(minutes=1))
    a_little_before = status("UPDATED", at=T0 - timedelta(seconds=90))
    assert interpret_status(a_little_before, sent(), fresh(), strict).outcome == "processing"
    assert interpret_status(a_little_before, sent(), fresh(), POLICY).outcome == "confirmed"


def test_a_status_dated_a_little_before_our_send_never_ends_as_a_false_stuck() -> None:
    """AVIV's clock 90 s behind: its CREATED for our send, seen hours later, confirms it."""
    skewed = status("CREATED", at=T0 - timedelta(seconds=90))
    decision = decide(fresh(), skewed, now=T0 + POLICY.stuck_after + timedelta(hours=1))
    assert decision.reading is not None and decision.reading.outcome == "confirmed"
    assert decision.notifications == () and decision.watch.stop


def test_the_revision_decides_before_the_dates_whatever_the_skew() -> None:
    """The previous send's revision is known: a higher one is ours even dated 20 minutes before
    our send, and the previous one is not ours even dated after it."""
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3, last=first), last=first).state
    second = sent(at=T0 + timedelta(minutes=30), stamp="2026-03-02T09:30:00", version=5)
    rolled = roll_to_send(state.copy(), second)
    assert (rolled.revision_floor, rolled.floor_is_previous_send) == (3, True)
    far_behind = status("UPDATED", at=T0 + timedelta(minutes=10), revision=4, last=second)
    assert interpret_status(far_behind, second, rolled, POLICY).outcome == "confirmed"
    late_first = status("UPDATED", at=T0 + timedelta(minutes=31), revision=3, last=first)
    reading = interpret_status(late_first, second, rolled, POLICY)
    assert (reading.ours, reading.note) == (False, "revision 3 belongs to an earlier send")


def test_a_revision_above_an_older_sends_floor_is_judged_by_date() -> None:
    """The send before ours never told its revision: revision 4 may be that send's, not ours."""
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3, last=first), last=first).state
    second = sent(at=T0 + timedelta(minutes=30), stamp="2026-03-02T09:30:00", version=5)
    state = decide(state, None, last=second, now=T0 + timedelta(minutes=31)).state  # no status yet
    third = sent(at=T0 + timedelta(minutes=50), stamp="2026-03-02T09:50:00", version=6)
    rolled = roll_to_send(state.copy(), third)
    assert (rolled.revision_floor, rolled.floor_is_previous_send) == (3, False)
    seconds_status = status("UPDATED", at=T0 + timedelta(minutes=32), revision=4, last=second)
    assert interpret_status(seconds_status, third, rolled, POLICY).outcome == "processing"
    thirds_status = status("UPDATED", at=T0 + timedelta(minutes=49), revision=5, last=third)
    assert interpret_status(thirds_status, third, rolled, POLICY).outcome == "confirmed"


def test_a_second_truncated_status_date_is_still_ours() -> None:
    last = sent(at=T0 + timedelta(milliseconds=700))
    assert interpret_status(status("UPDATED", at=T0), last, fresh(), POLICY).outcome == "confirmed"


def test_a_late_status_of_the_previous_send_is_recognised_by_its_revision() -> None:
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3), last=first).state
    second = sent(at=T0 + timedelta(minutes=10), stamp="2026-03-02T09:10:00", version=5)
    # AVIV finishes the first send's processing after the second send was made:
    late = status(
        "UPDATED_WITH_MEDIA_ERROR",
        at=T0 + timedelta(minutes=11),
        revision=3,
        failed={0: "DOWNLOADING_FAILED"},
        last=first,
    )
    reading = interpret_status(late, second, roll_to_send(state.copy(), second), POLICY)
    assert (reading.outcome, reading.ours) == ("processing", False)
    ours = status("UPDATED", at=T0 + timedelta(minutes=12), revision=4, last=second)
    assert interpret_status(ours, second, roll_to_send(state.copy(), second), POLICY).outcome == "confirmed"


def test_an_older_status_than_one_applied_is_ignored() -> None:
    state = decide(fresh(), status("UPDATED", at=T0 + timedelta(minutes=2))).state
    pushed_late = status("RECEIVED", at=T0 + timedelta(seconds=1))
    reading = interpret_status(pushed_late, sent(), roll_to_send(state.copy(), sent()), POLICY)
    assert not reading.ours and reading.outcome == "processing"


def test_a_status_of_the_next_send_applied_early_does_not_make_that_sends_statuses_look_old() -> None:
    """A push for a new send can be applied while the previous send is still the recorded one."""
    first = sent()
    state = decide(fresh(), status("UPDATED", revision=3, last=first), last=first).state
    second = sent(at=T0 + timedelta(minutes=10), stamp="2026-03-02T09:10:00", version=5)
    early = status("UPDATED", at=T0 + timedelta(minutes=10, seconds=3), revision=4, last=second)
    state = decide(
        state, early, last=first, now=T0 + timedelta(minutes=10, seconds=4)
    ).state  # SENT not yet written
    reading = interpret_status(early, second, roll_to_send(state.copy(), second), POLICY)
    assert (reading.outcome, reading.ours) == ("confirmed", True)
