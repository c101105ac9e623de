"""AVIV's media rules for one POST/PUT: which media it fetches again, and the status each media ends
in (with the media statuses a test asked for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devtools.aviv_emulator.records import FAILED_MEDIA_STATUSES, Download, MediaState, media_key

# Statuses an unchanged media keeps: AVIV does not fetch it again, so nothing moves it on.
_HELD_STATUSES = (*FAILED_MEDIA_STATUSES, "ACCEPTED", "DOWNLOADING")


def media_to_download(items: list[dict[str, Any]], previous: dict[str, MediaState]) -> list[str]:
    """New media and media whose ``timestamp`` changed: the only ones AVIV fetches again."""
    to_download: list[str] = []
    for item in items:
        key, timestamp = media_key(item["url"])
        before = previous.get(key)
        if before is None or before.timestamp != timestamp:
            to_download.append(item["url"])
    return to_download


def media_outcome(
    items: list[dict[str, Any]],
    previous: dict[str, MediaState],
    results: dict[str, Download],
    forced: Callable[[str], str | None],
    *,
    creating: bool,
) -> tuple[dict[str, MediaState], list[dict[str, str]]]:
    """The media AVIV holds after this call, and the ``mediaStatuses`` of its final status.

    ``forced(url)`` is the status a test asked this media's downloads to end in (or None)."""
    current: dict[str, MediaState] = {}
    media_statuses: list[dict[str, str]] = []
    for item in items:
        url = item["url"]
        key, timestamp = media_key(url)
        before = previous.get(key)
        download = results.get(url)
        if download is not None and not download.ok:
            status = "DOWNLOADING_FAILED"
        elif download is None and before is not None and before.status in _HELD_STATUSES:
            status = before.status  # not fetched again: a failed media stays failed
        elif download is not None and forced(url) is not None:
            status = forced(url) or ""
        else:
            status = "CREATED" if creating or before is None else "UPDATED"
        current[key] = MediaState(url=url, timestamp=timestamp, status=status)
        media_statuses.append({"url": url, "status": status})
    return current, media_statuses


def failure_count(media: dict[str, MediaState]) -> int:
    return sum(1 for m in media.values() if m.failed)
