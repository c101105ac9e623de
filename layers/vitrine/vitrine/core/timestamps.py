"""Media timestamps: the only thing that makes AVIV download a media again.

AVIV compares each media's URL, timestamp included, with the list it was sent before: a new
timestamp means "fetch the file again", the same one means "keep what you have". So a timestamp
must stay byte-for-byte stable while the file is unchanged and must change when it is not.
See ``docs/media-timestamps.md``. The URL format built here is a contract: changing it would make
every portal re-download every media of every listing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from vitrine.core.model import Media, SentMedia, StampedMedia

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
TIMESTAMP_PARAMETER = "timestamp"

_ONE_SECOND = timedelta(seconds=1)


def format_timestamp(moment: datetime) -> str:
    """AVIV's timestamp: UTC, to the second, no zone (``2026-02-13T09:25:57``). Naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def _is_timestamp_parameter(parameter: str) -> bool:
    return parameter.partition("=")[0] == TIMESTAMP_PARAMETER


def with_timestamp(url: str, timestamp: str) -> str:
    """The URL sent to AVIV: the CRM's URL byte for byte plus ``timestamp=<timestamp>``.

    ``?`` when the URL has no query, ``&`` when it has one; an existing ``timestamp`` parameter is
    dropped (only the new one must count); the fragment, if any, stays at the end. Nothing is
    re-encoded or re-ordered, and the timestamp's colons are written as they are.
    """
    if "?" not in url and "#" not in url:  # the common case, kept cheap: this runs once per media
        return f"{url}?{TIMESTAMP_PARAMETER}={timestamp}"
    base, hash_mark, fragment = url.partition("#")
    path, question_mark, query = base.partition("?")
    if not question_mark:
        return f"{path}?{TIMESTAMP_PARAMETER}={timestamp}{hash_mark}{fragment}"
    if TIMESTAMP_PARAMETER in query:
        query = "&".join(p for p in query.split("&") if not _is_timestamp_parameter(p))
    separator = "" if query == "" or query.endswith("&") else "&"
    return f"{path}?{query}{separator}{TIMESTAMP_PARAMETER}={timestamp}{hash_mark}{fragment}"


def strip_timestamp(url: str) -> str:
    """The URL with every ``timestamp`` parameter removed: AVIV's identity of a media.

    Empty parameters and an empty query are dropped too, so that
    ``strip_timestamp(with_timestamp(u, t)) == strip_timestamp(u)`` for every URL ``u``: two media
    are "Duplicated media" for AVIV exactly when their stripped URLs are equal.
    """
    if "?" not in url or (
        TIMESTAMP_PARAMETER not in url
        and "&&" not in url
        and "?&" not in url
        and "&#" not in url
        and "?#" not in url
        and not url.endswith(("?", "&"))
    ):
        return url  # no query, or nothing in it to remove or tidy: the common cases for a CRM URL
    base, hash_mark, fragment = url.partition("#")
    path, question_mark, query = base.partition("?")
    if not question_mark:
        return url
    kept = "&".join(p for p in query.split("&") if p and not _is_timestamp_parameter(p))
    return f"{path}?{kept}{hash_mark}{fragment}" if kept else f"{path}{hash_mark}{fragment}"


def timestamp_in(url: str) -> str | None:
    """The value of the URL's (last) ``timestamp`` parameter, as written; None when it has none."""
    if TIMESTAMP_PARAMETER not in url:
        return None
    _, question_mark, query = url.partition("#")[0].partition("?")
    found: str | None = None
    if question_mark:
        for parameter in query.split("&"):
            name, _, value = parameter.partition("=")
            if name == TIMESTAMP_PARAMETER:
                found = value
    return found


def carries_own_timestamp(url: str) -> bool:
    """True when the CRM's URL already has a ``timestamp`` query parameter: any letter case,
    percent-encoded or not, with or without a value (the fragment does not count).

    AVIV reads that parameter as the media's timestamp, so vitrine must add its own, and dropping the
    CRM's would break a URL that needs it (a signed URL, say). Such a URL is refused at ingest. The
    name is compared case-blind and decoded because AVIV does not say how it parses the query: a
    parser that folds case or decodes names would read ``Timestamp=`` or ``%74imestamp=`` as its own.
    """
    _path, question_mark, query = url.partition("#")[0].partition("?")
    if not question_mark or ("%" not in query and TIMESTAMP_PARAMETER not in query.lower()):
        return False  # the common case, kept cheap
    return any(
        unquote(parameter.partition("=")[0]).lower() == TIMESTAMP_PARAMETER for parameter in query.split("&")
    )


def _next_second(timestamp: str) -> str:
    return (datetime.strptime(timestamp, TIMESTAMP_FORMAT) + _ONE_SECOND).strftime(TIMESTAMP_FORMAT)


def _timestamps_by_identity(last_sent: Mapping[str, SentMedia]) -> dict[str, set[str]]:
    """Last-sent timestamps per stripped URL: a "new" timestamp must not repeat one AVIV holds."""
    by_identity: dict[str, set[str]] = {}
    for sent in last_sent.values():
        by_identity.setdefault(strip_timestamp(sent.url), set()).add(sent.timestamp)
    return by_identity


def assign_timestamps(
    media: Sequence[Media],
    last_sent: Mapping[str, SentMedia],
    pending: Mapping[str, SentMedia],
    now: datetime,
) -> list[StampedMedia]:
    """Give each media (matched by CRM id) the timestamp it is sent with.

    1. url and version unchanged since the last send: keep the last-sent timestamp (no download),
       and the last-sent URL byte for byte when it was adopted from AVIV;
    2. else the write-ahead (``pending``) send has the same url and version: reuse its timestamp (and
       adopted URL), so a retry after a crash rebuilds an identical body;
    3. else a new timestamp, ``format_timestamp(now)``, moved on by a second at a time while it equals
       a timestamp AVIV already holds for this media (same id, or the same URL ignoring timestamps),
       so a change within the second of the previous send still makes AVIV download.

    Title, category, tags and position never move a timestamp; the listing's edit time is no input.
    A media absent from ``last_sent`` (new, or removed and re-added) is new to AVIV.
    """
    fresh: str | None = None  # formatted once, and only if some media needs a new timestamp
    taken_by_identity: dict[str, set[str]] | None = None  # built only when a media needs a new timestamp
    stamped: list[StampedMedia] = []
    append = stamped.append
    for item in media:
        kept = _kept(item, last_sent.get(item.id)) or _kept(item, pending.get(item.id))
        if kept is not None:
            timestamp, adopted_url = kept
        else:
            if taken_by_identity is None:
                taken_by_identity = _timestamps_by_identity(last_sent)
            if fresh is None:
                fresh = format_timestamp(now)
            timestamp, adopted_url = _fresh(item, fresh, taken_by_identity, last_sent.get(item.id)), None
        if adopted_url is None:
            append(StampedMedia(item, timestamp, with_timestamp(item.url, timestamp)))
        else:
            append(StampedMedia(item, timestamp, adopted_url, adopted=True))
    return stamped


def _kept(item: Media, sent: SentMedia | None) -> tuple[str, str | None] | None:
    """The timestamp (and adopted URL) of a send that had this media's url and version: rules 1-2."""
    if sent is not None and sent.url == item.url and sent.version == item.version:
        return sent.timestamp, sent.adopted_url
    return None


def _fresh(
    item: Media, fresh: str, taken_by_identity: Mapping[str, set[str]], previous: SentMedia | None
) -> str:
    """Rule 3: ``fresh``, moved on a second at a time past every timestamp AVIV holds for this media."""
    taken = taken_by_identity.get(strip_timestamp(item.url), set())
    if previous is not None:
        taken = taken | {previous.timestamp}
    timestamp = fresh
    while timestamp in taken:
        timestamp = _next_second(timestamp)
    return timestamp


def sent_media_records(
    stamped: Sequence[StampedMedia], previous: Mapping[str, SentMedia] | None = None
) -> list[SentMedia]:
    """What to remember of a send (position = index in the body): the input of the next assignment.

    Records of ``previous`` (by id) that are unchanged are reused rather than rebuilt: in the steady
    state every record is, and building 1,000 frozen records is a visible part of planning.
    """
    if not previous:
        return [_sent_record(s, position) for position, s in enumerate(stamped)]
    records: list[SentMedia] = []
    append = records.append
    for position, current in enumerate(stamped):
        media = current.media
        old = previous.get(media.id)
        if (
            old is not None
            and old.position == position
            and old.timestamp == current.timestamp
            and old.url == media.url
            and old.version == media.version
            and (old.adopted_url == current.aviv_url if current.adopted else old.adopted_url is None)
        ):
            append(old)
        else:
            append(_sent_record(current, position))
    return records


def _sent_record(stamped: StampedMedia, position: int) -> SentMedia:
    media = stamped.media
    adopted_url = stamped.aviv_url if stamped.adopted else None
    return SentMedia(media.id, media.url, media.version, stamped.timestamp, position, adopted_url)
