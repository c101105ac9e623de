"""Properties of media timestamps: the URL round trip, and a timestamp moves iff url or version does."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from tests.properties.strategies import T0, URL_TEXT, later, media_lists, timestamps, urls
from vitrine.core.model import Media
from vitrine.core.timestamps import assign_timestamps, sent_media_records, strip_timestamp, with_timestamp


def _is_timestamp(parameter: str) -> bool:
    return parameter.partition("=")[0] == "timestamp"


@given(urls(), timestamps)
def test_stripping_a_stamped_url_gives_the_stripped_url_for_any_url(url: str, timestamp: str) -> None:
    assert strip_timestamp(with_timestamp(url, timestamp)) == strip_timestamp(url)


@given(urls(), timestamps)
def test_stamping_keeps_every_other_byte_of_the_url_and_adds_the_timestamp_last(
    url: str, timestamp: str
) -> None:
    stamped = with_timestamp(url, timestamp)
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    stamped_base, stamped_hash, stamped_fragment = stamped.partition("#")
    stamped_path, question_mark, stamped_query = stamped_base.partition("?")
    assert (stamped_path, question_mark, stamped_hash, stamped_fragment) == (path, "?", hash_mark, fragment)
    kept = [parameter for parameter in query.split("&") if not _is_timestamp(parameter)]
    if kept and kept[-1] == "":
        kept.pop()  # a trailing '&' (or an empty query) is where the timestamp goes
    assert stamped_query.split("&") == [*kept, f"timestamp={timestamp}"]


@st.composite
def edits(draw: st.DrawFn, before: list[Media]) -> list[Media]:
    """The CRM's next state: media kept, changed in any field, removed, added and moved."""
    after = []
    for media in before:
        if draw(st.integers(0, 5)) == 0:
            continue  # removed
        changes = {}
        if draw(st.booleans()):
            changes["url"] = (
                media.url.replace(".jpg", "") + draw(st.text(URL_TEXT, min_size=1, max_size=4)) + ".jpg"
            )
        if draw(st.booleans()):
            changes["version"] = draw(st.one_of(st.none(), st.sampled_from(["v1", "v2", "3"])))
        if draw(st.booleans()):
            changes["title"] = draw(st.sampled_from(["Séjour", "Cuisine", None]))
        if draw(st.booleans()):
            changes["tags"] = ("GARDEN",)
        after.append(dataclasses.replace(media, **changes))
    added = draw(st.integers(0, 3))
    after += [Media(f"new{n}", f"https://photos.agence.fr/new/{n}.jpg", "PICTURE") for n in range(added)]
    return draw(st.permutations(after))


@given(st.data(), media_lists(), st.integers(0, 3 * 86_400))
def test_a_media_gets_a_new_timestamp_if_and_only_if_its_url_or_version_changed(
    data: st.DataObject, before: list[Media], seconds_later: int
) -> None:
    first = assign_timestamps(before, {}, {}, T0)
    sent = {record.id: record for record in sent_media_records(first)}
    after = data.draw(edits(before))
    now: datetime = later(T0, seconds_later)  # possibly within the same second as the first send
    for stamped in assign_timestamps(after, sent, {}, now):
        previous = sent.get(stamped.media.id)
        if previous is None:
            continue
        moved = stamped.timestamp != previous.timestamp
        assert moved == (stamped.media.url != previous.url or stamped.media.version != previous.version)


@given(media_lists(), st.integers(0, 600))
def test_a_retried_send_rebuilds_the_same_timestamps_from_its_write_ahead_copy(
    media: list[Media], seconds_later: int
) -> None:
    pending = {record.id: record for record in sent_media_records(assign_timestamps(media, {}, {}, T0))}
    retried = assign_timestamps(media, {}, pending, later(T0, seconds_later))
    assert [s.timestamp for s in retried] == [pending[m.id].timestamp for m in media]
