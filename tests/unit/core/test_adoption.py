"""Adoption: planning the first send onto a classified AVIV already holds, with AVIV's URLs kept."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.support.listings import sample_desired, sample_media
from tests.support.migration import PREVIOUS_TIMESTAMP, other_sender_body
from vitrine.core.adoption import UNMATCHED_PREFIX, adopted_count, adopted_last_sent, plan_adoption
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.plan import plan_sync
from vitrine.core.ports import AvivClassifiedCopy
from vitrine.core.timestamps import format_timestamp, timestamp_in

T0 = datetime(2026, 2, 13, 9, 25, 57)
DEFAULTS = ClassifiedDefaults("vitrine", "1.0.0", ("SL",))


def held(body: dict) -> AvivClassifiedCopy:  # type: ignore[type-arg]
    return AvivClassifiedCopy("c-held", body, '"3"')


def test_every_media_with_the_same_url_keeps_aviv_s_url_and_timestamp() -> None:
    desired = sample_desired("L-1", 5, url_style="mixed")
    plan = plan_adoption(desired, held(other_sender_body(desired)), None, DEFAULTS, T0, None)
    assert [m["url"] for m in plan.body["media"]] == [m["url"] for m in other_sender_body(desired)["media"]]
    assert {s.timestamp for s in plan.stamped} == {PREVIOUS_TIMESTAMP}
    assert plan.diff.added == () and plan.diff.redownloaded == ()
    assert plan.diff.classified_changed, "the other sender's sourceSystem is replaced"
    assert adopted_count(plan) == 5


def test_new_and_changed_media_get_a_new_timestamp_the_others_keep_aviv_s() -> None:
    desired = sample_desired("L-1", 4)
    body = other_sender_body(desired, desired.media[:3])
    media = [
        *desired.media[:2],
        replace(desired.media[2], url=desired.media[2].url + "?v=2"),
        desired.media[3],
    ]
    plan = plan_adoption(replace(desired, media=media), held(body), None, DEFAULTS, T0, None)
    timestamps = [s.timestamp for s in plan.stamped]
    assert timestamps == [PREVIOUS_TIMESTAMP, PREVIOUS_TIMESTAMP, format_timestamp(T0), format_timestamp(T0)]
    assert plan.diff.added == (media[2].id, media[3].id)
    assert adopted_count(plan) == 2


def test_a_url_spelled_otherwise_by_the_other_sender_is_adopted_byte_for_byte_and_kept_afterwards() -> None:
    desired = sample_desired("L-1", 2, media=[sample_media("L-1", 0, url="https://m.example/a.jpg?w=800")])
    aviv_url = "https://m.example/a.jpg?timestamp=1707816357&w=800"
    body = other_sender_body(desired, spell=lambda url: aviv_url)
    plan = plan_adoption(desired, held(body), None, DEFAULTS, T0, None)
    assert plan.body["media"][0]["url"] == aviv_url
    assert plan.sent_media[0].adopted_url == aviv_url and plan.sent_media[0].timestamp == "1707816357"
    # the next sync plans against what was recorded: the same URL, nothing to send
    record = plan.record(desired, "c-held", None, T0)
    again = plan_sync(desired, record, None, DEFAULTS, T0)
    assert again.diff.is_noop and again.body["media"][0]["url"] == aviv_url
    # a new version of the file is stamped by vitrine
    edited = replace(desired, media=[replace(desired.media[0], version="v9")])
    changed = plan_sync(edited, record, None, DEFAULTS, T0)
    assert (
        changed.body["media"][0]["url"] == f"https://m.example/a.jpg?w=800&timestamp={format_timestamp(T0)}"
    )
    assert changed.sent_media[0].adopted_url is None


def test_a_held_url_without_any_timestamp_is_adopted_as_it_is() -> None:
    desired = sample_desired("L-1", 1)
    body = other_sender_body(desired, spell=lambda url: url)
    plan = plan_adoption(desired, held(body), None, DEFAULTS, T0, None)
    assert plan.body["media"][0]["url"] == desired.media[0].url
    assert plan.stamped[0].timestamp == "" and plan.stamped[0].adopted


def test_the_plan_is_a_no_op_exactly_when_aviv_holds_the_body_vitrine_would_send() -> None:
    desired = sample_desired("L-1", 3)
    ours = plan_sync(desired, None, None, DEFAULTS, T0).body
    assert plan_adoption(desired, held(ours), None, DEFAULTS, T0, None).diff.is_noop
    extra = {
        **ours,
        "media": [*ours["media"], {"url": "https://other.example/x.jpg", "mediaType": "PICTURE"}],
    }
    plan = plan_adoption(desired, held(extra), None, DEFAULTS, T0, None)
    assert not plan.diff.is_noop and plan.diff.removed == (f"{UNMATCHED_PREFIX}3",)
    assert all(not m.id.startswith(UNMATCHED_PREFIX) for m in plan.sent_media), "never recorded"


def test_the_adopted_record_names_the_held_classified_its_etag_and_the_agency() -> None:
    desired = sample_desired("L-1", 2)
    record = adopted_last_sent("L-1", held(other_sender_body(desired)), desired.media, "agency-9")
    assert (record.classified_id, record.etag, record.intermediary_id) == ("c-held", '"3"', "agency-9")
    assert [m.position for m in record.media] == [0, 1]


def test_timestamp_in_reads_the_last_timestamp_parameter() -> None:
    assert timestamp_in("https://a.example/p.jpg?timestamp=2026-01-01T00:00:00") == "2026-01-01T00:00:00"
    assert timestamp_in("https://a.example/p.jpg?x=1&timestamp=a&timestamp=b#f") == "b"
    assert timestamp_in("https://a.example/p.jpg") is None
    assert timestamp_in("https://a.example/p.jpg&timestamp=1") is None, "no query: AVIV's typo form"
