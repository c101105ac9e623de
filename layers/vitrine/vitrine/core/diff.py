"""What a send would change on AVIV, compared with what AVIV was last sent.

The same vocabulary as AVIV's media update rules: a media is downloaded when new, re-downloaded
when its URL (timestamp included) changed, reordered when its place changed, removed when absent.
An empty diff means the body is the one AVIV already has: nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vitrine.core.model import LastSent, StampedMedia


@dataclass(frozen=True)
class ClassifiedDiff:
    """Changes by kind, as CRM media ids (in body order; ``removed`` in last-sent order)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    redownloaded: tuple[str, ...]
    moved: tuple[str, ...]
    metadata_changed: tuple[str, ...]
    classified_changed: bool
    first_send: bool

    @property
    def is_noop(self) -> bool:
        """True iff the body equals the last-sent one: then AVIV must not be called."""
        return not (
            self.first_send
            or self.classified_changed
            or self.added
            or self.removed
            or self.redownloaded
            or self.moved
            or self.metadata_changed
        )

    def summary(self) -> dict[str, Any]:
        """Counts for logs and metrics (ids can be many; counts are what dashboards need)."""
        return {
            "first_send": self.first_send,
            "classified_changed": self.classified_changed,
            "added": len(self.added),
            "removed": len(self.removed),
            "redownloaded": len(self.redownloaded),
            "moved": len(self.moved),
            "metadata_changed": len(self.metadata_changed),
            "noop": self.is_noop,
        }


_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """One spelling per JSON value: key order ignored, ``1``/``1.0``/``true`` kept apart (``==`` is not)."""
    return _CANONICAL_ENCODER.encode(value)


def _same_leaf_types(left: Any, right: Any) -> bool:
    """Given ``left == right``: are the leaves also the same JSON values (``true`` is not ``1``)?"""
    if isinstance(left, dict):
        return all(_same_leaf_types(value, right[key]) for key, value in left.items())
    if isinstance(left, (list, tuple)):
        return isinstance(right, (list, tuple)) and all(map(_same_leaf_types, left, right))
    if isinstance(left, float):  # 0.0 == -0.0 but JSON writes them apart
        return isinstance(right, float) and repr(left) == repr(right)
    return type(left) is type(right)


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON documents: what ``canonical_json(left) == canonical_json(right)`` says, faster.

    ``==`` ignores key order as JSON does and settles the equal case at C speed, but says
    ``True == 1 == 1.0``: a walk over the (then identical) structure tells those apart. Unequal by
    ``==`` may still be equal as JSON (a tuple for a list, NaN): the canonical encodings decide.
    """
    if left == right:
        return _same_leaf_types(left, right)
    return canonical_json(left) == canonical_json(right)


def _outside_media(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "media"}


def _metadata_differs(new_item: Mapping[str, Any], old_item: Mapping[str, Any]) -> bool:
    """Anything but the URL differs (title, category, tags, mediaType, or a key only one side has)."""
    keys = (new_item.keys() | old_item.keys()) - {"url"}
    return any(new_item.get(key, _ABSENT) != old_item.get(key, _ABSENT) for key in keys)


_ABSENT = object()


def diff_classified(
    last_sent: LastSent | None, body: Mapping[str, Any], stamped: Sequence[StampedMedia]
) -> ClassifiedDiff:
    """Compare ``body`` (built from ``stamped``, in the same order) with ``last_sent``.

    Media are matched by CRM id through ``last_sent.media``; each one's previous item is
    ``last_sent.body["media"][position]``. Redownloaded = timestamp or outgoing URL differs; moved =
    index differs; metadata = the item differs other than by its URL. Outside ``media`` the two
    bodies are compared canonically. With a consistent ``last_sent`` (its records match its body),
    ``is_noop`` holds exactly when ``body`` equals ``last_sent.body``.
    """
    if last_sent is None or last_sent.deleted:
        return ClassifiedDiff(
            added=tuple(s.media.id for s in stamped),
            removed=(),
            redownloaded=(),
            moved=(),
            metadata_changed=(),
            classified_changed=True,
            first_send=True,
        )
    added, redownloaded, moved, metadata_changed = _media_changes(last_sent, body, stamped)
    current_ids = {s.media.id for s in stamped}
    removed = tuple(m.id for m in last_sent.media if m.id not in current_ids)
    classified_changed = not same_json(_outside_media(body), _outside_media(last_sent.body)) or (
        ("media" in body) != ("media" in last_sent.body)
    )
    return ClassifiedDiff(
        added=tuple(added),
        removed=removed,
        redownloaded=tuple(redownloaded),
        moved=tuple(moved),
        metadata_changed=tuple(metadata_changed),
        classified_changed=classified_changed,
        first_send=False,
    )


def _media_changes(
    last_sent: LastSent, body: Mapping[str, Any], stamped: Sequence[StampedMedia]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Added, redownloaded, moved and metadata-changed media ids, in body order."""
    new_items = body.get("media") or []
    old_items = last_sent.body.get("media") or []
    old_count = len(old_items)
    previous_by_id = last_sent.media_by_id()
    added: list[str] = []
    redownloaded: list[str] = []
    moved: list[str] = []
    metadata_changed: list[str] = []
    for index, current in enumerate(stamped):
        media_id = current.media.id
        previous = previous_by_id.get(media_id)
        if previous is None:
            added.append(media_id)
            continue
        position = previous.position
        if position != index:
            moved.append(media_id)
        new_item = new_items[index]
        old_item = old_items[position] if 0 <= position < old_count else None
        if old_item is None:  # last-sent records and body disagree: assume everything changed
            redownloaded.append(media_id)
            metadata_changed.append(media_id)
            continue
        if previous.timestamp != current.timestamp or old_item.get("url") != new_item.get("url"):
            redownloaded.append(media_id)
        if new_item != old_item and _metadata_differs(new_item, old_item):
            metadata_changed.append(media_id)
    return added, redownloaded, moved, metadata_changed
