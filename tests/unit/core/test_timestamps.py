"""Media timestamps: byte-stable while a file is unchanged, renewed when it changes, URL format fixed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.support.listings import media_url, sample_desired, sample_media
from vitrine.core.model import Media, SentMedia
from vitrine.core.timestamps import (
    TIMESTAMP_FORMAT,
    assign_timestamps,
    carries_own_timestamp,
    format_timestamp,
    sent_media_records,
    strip_timestamp,
    with_timestamp,
)

T0 = datetime(2026, 2, 13, 9, 25, 57)
T1 = datetime(2026, 2, 14, 18, 0, 3)
T2 = datetime(2026, 2, 20, 7, 45, 0)
TS = "2026-02-13T09:25:57"


def sent_by_id(media: list[Media], now: datetime) -> dict[str, SentMedia]:
    """What a send of ``media`` at ``now`` (with nothing sent before) leaves behind."""
    return {r.id: r for r in sent_media_records(assign_timestamps(media, {}, {}, now))}


def timestamps(media: list[Media], last: dict[str, SentMedia], now: datetime, pending=None) -> dict[str, str]:
    return {s.media.id: s.timestamp for s in assign_timestamps(media, last, pending or {}, now)}


# --- format -----------------------------------------------------------------------------------


def test_format_is_aviv_example_format_to_the_second():
    assert TIMESTAMP_FORMAT == "%Y-%m-%dT%H:%M:%S"
    assert format_timestamp(datetime(2026, 2, 13, 9, 25, 57, 999_999)) == "2026-02-13T09:25:57"


def test_naive_is_utc_and_aware_is_converted_to_utc():
    paris = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 2, 13, 10, 25, 57, tzinfo=paris)) == "2026-02-13T09:25:57"
    assert format_timestamp(datetime(2026, 2, 13, 9, 25, 57, tzinfo=UTC)) == "2026-02-13T09:25:57"
    assert format_timestamp(T0) == "2026-02-13T09:25:57"


# --- URL building -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://a.com/a.jpg", f"http://a.com/a.jpg?timestamp={TS}"),
        ("https://a.com/a.jpg?w=1600", f"https://a.com/a.jpg?w=1600&timestamp={TS}"),
        ("https://a.com/a.jpg?w=1600&h=900", f"https://a.com/a.jpg?w=1600&h=900&timestamp={TS}"),
        # an existing timestamp is replaced, wherever it is
        ("https://a.com/a.jpg?timestamp=2020-01-01T00:00:00", f"https://a.com/a.jpg?timestamp={TS}"),
        ("https://a.com/a.jpg?w=1&timestamp=old&h=2", f"https://a.com/a.jpg?w=1&h=2&timestamp={TS}"),
        ("https://a.com/a.jpg?timestamp=1&timestamp=2", f"https://a.com/a.jpg?timestamp={TS}"),
        ("https://a.com/a.jpg?timestamp", f"https://a.com/a.jpg?timestamp={TS}"),
        # parameters that merely look alike are the CRM's own
        ("https://a.com/a.jpg?timestamps=1", f"https://a.com/a.jpg?timestamps=1&timestamp={TS}"),
        ("https://a.com/timestamp/a.jpg", f"https://a.com/timestamp/a.jpg?timestamp={TS}"),
        # the fragment stays at the end
        ("https://a.com/a.jpg#main", f"https://a.com/a.jpg?timestamp={TS}#main"),
        ("https://a.com/a.jpg?w=1#main", f"https://a.com/a.jpg?w=1&timestamp={TS}#main"),
        ("https://a.com/a.jpg#frag?notquery=1", f"https://a.com/a.jpg?timestamp={TS}#frag?notquery=1"),
        # an empty query or a trailing & is completed, not doubled
        ("https://a.com/a.jpg?", f"https://a.com/a.jpg?timestamp={TS}"),
        ("https://a.com/a.jpg?w=1&", f"https://a.com/a.jpg?w=1&timestamp={TS}"),
    ],
)
def test_with_timestamp(url, expected):
    assert with_timestamp(url, TS) == expected


def test_rest_of_url_is_kept_byte_for_byte():
    crm = "https://cdn.example/s%C3%A9jour%20photo%2B1.jpg?z=%2F%2f&a=b+c&sig=a%2Fb%3D%3D&&x=é"
    sent = with_timestamp(crm, TS)
    assert sent == crm + f"&timestamp={TS}"  # nothing re-encoded, re-ordered, decoded or dropped


def test_colons_of_the_timestamp_are_not_percent_encoded():
    sent = with_timestamp("http://a.com/a.jpg", TS)
    assert sent.endswith("timestamp=2026-02-13T09:25:57")
    assert "%3A" not in sent


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"http://a.com/a.jpg?timestamp={TS}", "http://a.com/a.jpg"),
        (f"http://a.com/a.jpg?w=1&timestamp={TS}", "http://a.com/a.jpg?w=1"),
        (f"http://a.com/a.jpg?timestamp={TS}&w=1", "http://a.com/a.jpg?w=1"),
        (f"http://a.com/a.jpg?timestamp={TS}#f", "http://a.com/a.jpg#f"),
        ("http://a.com/a.jpg?w=1", "http://a.com/a.jpg?w=1"),
        ("http://a.com/a.jpg", "http://a.com/a.jpg"),
        ("http://a.com/a.jpg?", "http://a.com/a.jpg"),
        ("http://a.com/a.jpg#x?timestamp=1", "http://a.com/a.jpg#x?timestamp=1"),
    ],
)
def test_strip_timestamp(url, expected):
    assert strip_timestamp(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://a.com/a.jpg",
        "http://a.com/a.jpg?",
        "http://a.com/a.jpg?w=1&",
        "http://a.com/a.jpg?&w=1",
        "http://a.com/a.jpg?w=1&&h=2#f",
        "http://a.com/a.jpg?timestamp=x&w=1#f",
        "http://a.com/a.jpg#f",
        *(media_url("L", i, t, s) for i, t, s in [(1, "PICTURE", "encoded"), (2, "VIDEO", "plain")]),
        *(media_url("L", 3, "PICTURE", s) for s in ("plain", "query", "fragment")),
    ],
)
def test_stripping_ignores_exactly_the_timestamp(url):
    """AVIV duplicates = equal once stripped, so a stamped URL strips to its CRM URL's identity."""
    assert strip_timestamp(with_timestamp(url, TS)) == strip_timestamp(url)
    assert strip_timestamp(with_timestamp(url, TS)) == strip_timestamp(
        with_timestamp(url, "2030-01-01T00:00:00")
    )
    assert strip_timestamp(strip_timestamp(url)) == strip_timestamp(url)


@pytest.mark.parametrize(
    ("url", "carries"),
    [
        ("https://cdn.example/a.jpg?timestamp=1770971157&sig=ab", True),
        ("https://cdn.example/a.jpg?sig=ab&Timestamp=1770971157", True),
        ("https://cdn.example/a.jpg?TIMESTAMP", True),
        ("https://cdn.example/a.jpg?sig=ab&timestamp=#view", True),
        ("https://cdn.example/a.jpg?%74imestamp=1", True),
        ("https://cdn.example/a.jpg?time%53TAMP=1", True),
        ("https://cdn.example/a.jpg", False),
        ("https://cdn.example/a.jpg?timestamps=1&my_timestamp=2&timestamp_x=3", False),
        ("https://cdn.example/a.jpg?ts=1770971157", False),
        ("https://cdn.example/a.jpg?q=timestamp", False),
        ("https://cdn.example/a.jpg?timestamp%3D1", False),  # one name, "timestamp=1", and no value
        ("https://cdn.example/a.jpg#timestamp=1", False),
        ("https://cdn.example/a.jpg?w=1#x&timestamp=1", False),
        ("https://cdn.example/timestamp=1/a.jpg", False),
    ],
)
def test_a_crm_url_carries_its_own_timestamp_when_its_query_has_that_parameter(url, carries):
    """Any letter case and percent-encoded too: AVIV does not say how it reads the parameter."""
    assert carries_own_timestamp(url) is carries


def test_every_url_vitrine_sends_carries_a_timestamp():
    assert carries_own_timestamp(with_timestamp("https://cdn.example/a.jpg?w=1#v", TS))


# --- assignment -------------------------------------------------------------------------------


def test_first_send_stamps_everything_now():
    desired = sample_desired("L-1", 4, url_style="query")
    stamped = assign_timestamps(desired.media, {}, {}, T0)
    assert [s.timestamp for s in stamped] == [TS] * 4
    assert [s.aviv_url for s in stamped] == [with_timestamp(m.url, TS) for m in desired.media]
    assert [s.media for s in stamped] == desired.media


def test_unchanged_media_keep_their_timestamp_byte_for_byte():
    media = sample_desired("L-1", 5).media
    last = sent_by_id(media, T0)
    again = assign_timestamps(media, last, {}, T1)
    assert [s.timestamp for s in again] == [TS] * 5
    assert [s.aviv_url for s in again] == [s.aviv_url for s in assign_timestamps(media, {}, {}, T0)]


def test_url_change_renews_only_that_media():
    media = sample_desired("L-1", 3).media
    last = sent_by_id(media, T0)
    changed = [media[0], replace(media[1], url="https://media.crm.example/other.jpg"), media[2]]
    got = timestamps(changed, last, T1)
    assert got == {media[0].id: TS, media[1].id: format_timestamp(T1), media[2].id: TS}


def test_version_change_renews_the_timestamp():
    media = sample_desired("L-1", 3).media
    last = sent_by_id(media, T0)
    changed = [media[0], replace(media[1], version="v99"), media[2]]
    assert timestamps(changed, last, T1)[media[1].id] == format_timestamp(T1)
    # a version appearing or disappearing is a change too
    assert timestamps([replace(media[2], version=None)], last, T1)[media[2].id] == format_timestamp(T1)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Nouveau titre élégant"},
        {"title": None},
        {"category": "KITCHEN"},
        {"category": None},
        {"tags": ("POOL", "OUTDOOR")},
        {"media_type": "PANORAMA"},
    ],
)
def test_metadata_changes_never_move_a_timestamp(change):
    media = sample_desired("L-1", 3).media
    last = sent_by_id(media, T0)
    changed = [media[0], replace(media[1], **change), media[2]]
    assert set(timestamps(changed, last, T1).values()) == {TS}


def test_reordering_never_moves_a_timestamp():
    media = sample_desired("L-1", 6).media
    last = sent_by_id(media, T0)
    reordered = list(reversed(media))
    stamped = assign_timestamps(reordered, last, {}, T1)
    assert [s.timestamp for s in stamped] == [TS] * 6
    assert [s.media.id for s in stamped] == [m.id for m in reordered]


def test_removed_then_re_added_media_is_new_to_aviv():
    media = sample_desired("L-1", 3).media
    first = sent_by_id(media, T0)
    # second send without media[2]: AVIV deletes it
    second = {r.id: r for r in sent_media_records(assign_timestamps(media[:2], first, {}, T1))}
    assert media[2].id not in second
    # third send brings it back, same url and version: AVIV must download it again
    got = timestamps(media, second, T2)
    assert got[media[2].id] == format_timestamp(T2)
    assert got[media[0].id] == got[media[1].id] == TS


def test_pending_write_ahead_timestamp_is_reused_on_retry():
    media = sample_desired("L-1", 2).media
    last = sent_by_id(media, T0)
    edited = [replace(media[0], version="v9"), media[1]]
    attempt = assign_timestamps(edited, last, {}, T1)  # written ahead, then the process died
    pending = {r.id: r for r in sent_media_records(attempt)}
    retry = assign_timestamps(edited, last, pending, T2)
    assert retry == attempt  # identical body: same timestamps and URLs
    assert retry[0].timestamp == format_timestamp(T1)


def test_pending_is_only_reused_when_url_and_version_match():
    media = sample_desired("L-1", 1).media
    last = sent_by_id(media, T0)
    pending = {
        r.id: r for r in sent_media_records(assign_timestamps([replace(media[0], version="v9")], {}, {}, T1))
    }
    assert timestamps([replace(media[0], version="v10")], last, T2, pending)[media[0].id] == format_timestamp(
        T2
    )
    moved_url = replace(media[0], url="https://media.crm.example/new.jpg", version="v9")
    assert timestamps([moved_url], last, T2, pending)[media[0].id] == format_timestamp(T2)
    # unchanged since the last send: the last-sent timestamp wins over any pending one
    assert timestamps(media, last, T2, pending)[media[0].id] == TS


def test_change_within_the_same_second_is_bumped_by_one_second():
    media = sample_desired("L-1", 2).media
    last = sent_by_id(media, T0)
    changed = [replace(media[0], version="v2-same-second"), media[1]]
    got = timestamps(changed, last, T0 + timedelta(milliseconds=400))
    assert got[media[0].id] == "2026-02-13T09:25:58"
    assert got[media[1].id] == TS


def test_bump_carries_over_minutes_and_days():
    late = datetime(2026, 12, 31, 23, 59, 59)
    media = [sample_media("L-1", 0)]
    last = sent_by_id(media, late)
    assert timestamps([replace(media[0], version="v2")], last, late)[media[0].id] == "2027-01-01T00:00:00"


def test_bump_skips_every_timestamp_aviv_holds_for_that_url():
    """A new media taking a removed one's URL in the same second must still differ from it."""
    a, b = sample_media("L-1", 0), sample_media("L-1", 1)
    last = sent_by_id([a, b], T0)
    b_bumped = replace(b, version="v-edited")
    last = {r.id: r for r in sent_media_records(assign_timestamps([a, b_bumped], last, {}, T0))}
    assert last[b.id].timestamp == "2026-02-13T09:25:58"
    # in the same second, b disappears and a new media c reuses a's URL... and a takes b's URL
    c = replace(a, id="L-1-new")
    a_moved = replace(a, url=b.url)
    got = timestamps([c, a_moved], last, T0)
    assert got[c.id] != TS  # c's URL was sent with TS: reusing it would download nothing
    assert got[a.id] not in {TS, "2026-02-13T09:25:58"}  # a's own and b's (its new URL's) timestamps


def test_sent_media_records_positions_and_reuse():
    media = sample_desired("L-1", 4).media
    stamped = assign_timestamps(media, {}, {}, T0)
    records = sent_media_records(stamped)
    assert [(r.id, r.url, r.version, r.timestamp, r.position) for r in records] == [
        (m.id, m.url, m.version, TS, i) for i, m in enumerate(media)
    ]
    previous = {r.id: r for r in records}
    again = sent_media_records(assign_timestamps(media, previous, {}, T1), previous)
    assert again == records and all(x is y for x, y in zip(again, records, strict=True))
    swapped = sent_media_records(assign_timestamps([media[1], media[0]], previous, {}, T1), previous)
    assert [(r.id, r.position) for r in swapped] == [(media[1].id, 0), (media[0].id, 1)]
