"""Hypothesis strategies for the core's inputs: URLs, media, desired listings, moments.

Media and listings are drawn from the whole space the webhook accepts (every type, category, tag,
any single-line title, any http(s) URL with a host, versions as text or numbers); listing data is
one of the varied, AVIV-valid documents of ``tests.support.listings`` (every estate type, buy and
rent, CRM-set or defaulted source fields).
"""

from __future__ import annotations

import copy
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.support.listings import ESTATE_TYPES, sample_data
from vitrine.core.builder import ClassifiedDefaults
from vitrine.core.model import MEDIA_CATEGORIES, MEDIA_TYPES, PORTALS, DesiredListing, Media
from vitrine.core.timestamps import format_timestamp

DEFAULTS = ClassifiedDefaults(source_system="vitrine", source_system_version="0.1.0", default_portals=("SL",))
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

URL_TEXT = string.ascii_letters + string.digits + "-._~%!$'()*+,;:@é"
QUERY_TEXT = URL_TEXT + "=/?"

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
timestamps = moments.map(format_timestamp)


@st.composite
def urls(draw: st.DrawFn) -> str:
    """URL-shaped text: any query (empty parameters, ``&&``, a trailing ``&``, ``timestamp`` ones), a
    fragment that may hold ``?`` or ``&``, percent-escapes; sometimes arbitrary text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text())
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(
        st.sampled_from(["photos.agence.fr", "127.0.0.1:8080", "cdn.example.com", "xn--bcher-kva.de"])
    )
    path = "/".join(draw(st.lists(st.text(URL_TEXT, max_size=8), max_size=4)))
    url = f"{scheme}://{host}/{path}"
    if draw(st.booleans()):
        parameter = st.one_of(
            st.text(QUERY_TEXT, max_size=10),
            timestamps.map(lambda t: f"timestamp={t}"),
            st.sampled_from(["timestamp", "timestamp=", "timestamps=1", "x=timestamp", ""]),
        )
        url += "?" + "&".join(draw(st.lists(parameter, max_size=5)))
    if draw(st.booleans()):
        url += "#" + draw(st.text(QUERY_TEXT + "&#", max_size=10))
    return url


titles = st.text(
    st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters="\x85\ufeff"),
    min_size=1,
    max_size=60,
).filter(lambda title: not title[-1].isspace() and title.strip())
versions = st.one_of(
    st.none(), st.integers(0, 10**6).map(str), st.text(string.ascii_letters + "-.", min_size=1)
)


@st.composite
def media_item(draw: st.DrawFn, media_id: str, url: str) -> Media:
    return Media(
        id=media_id,
        url=url,
        media_type=draw(st.sampled_from(MEDIA_TYPES)),
        category=draw(st.one_of(st.none(), st.sampled_from(MEDIA_CATEGORIES))),
        tags=tuple(draw(st.lists(st.sampled_from(MEDIA_CATEGORIES), max_size=3, unique=True))),
        title=draw(st.one_of(st.none(), titles)),
        version=draw(versions),
    )


@st.composite
def media_lists(draw: st.DrawFn, max_size: int = 12) -> list[Media]:
    """Media with unique ids and unique URLs (the webhook refuses anything else)."""
    count = draw(st.integers(0, max_size))
    return [
        draw(
            media_item(
                f"m{index}", f"https://photos.agence.fr/{index}/{draw(st.text(URL_TEXT, max_size=6))}.jpg"
            )
        )
        for index in range(count)
    ]


@st.composite
def desired_listings(draw: st.DrawFn, max_media: int = 12) -> DesiredListing:
    listing_id = draw(st.sampled_from(["L-1", "AGC-LYON-2026-00417", "listing with spaces", "é-42"]))
    data = sample_data(
        listing_id,
        draw(st.sampled_from(["BUY", "RENT"])),
        estate_type=draw(st.sampled_from(ESTATE_TYPES)),
        source=draw(st.one_of(st.none(), st.just({"offererEstateId": f"crm-{listing_id}"}))),
    )
    return DesiredListing(
        listing_id=listing_id,
        owner_id="owner-1",
        portals=draw(st.one_of(st.none(), st.lists(st.sampled_from(PORTALS), min_size=1, unique=True))),
        data=copy.deepcopy(data),
        media=draw(media_lists(max_media)),
        version=draw(st.integers(1, 1_000)),
    )


def later(moment: datetime, seconds: int) -> datetime:
    return moment + timedelta(seconds=seconds)


def json_copy(value: Any) -> Any:
    return copy.deepcopy(value)
