"""The sample CRM webhooks of ``events/webhooks/``: one listing's story, told again under a new id.

Shared by ``vitrine smoke`` and ``make demo`` (devtools/demo.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from vitrine_cli.target import REPO_ROOT

SAMPLES_DIR = REPO_ROOT / "events" / "webhooks"


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path
    event: dict[str, Any]

    @property
    def sequence(self) -> int:
        value = self.event.get("sequence")
        return value if isinstance(value, int) else 0


def load_samples(directory: Path = SAMPLES_DIR) -> list[Sample]:
    """Every sample, in ``sequence`` order (the order the CRM emitted them)."""
    samples = [
        Sample(path.stem, path, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob("*.json"))
    ]
    return sorted(samples, key=lambda s: (s.sequence, s.name))


def rewrite_media_urls(event: dict[str, Any], media_base: str) -> dict[str, Any]:
    """A copy of ``event`` whose media URLs point at ``media_base`` (same path and query)."""
    base = urlsplit(media_base)

    def rewrite(url: Any) -> Any:
        if not isinstance(url, str):
            return url
        parts = urlsplit(url)
        return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return rewrite(value) if key == "url" else value

    rewritten: dict[str, Any] = walk(event)
    return rewritten


def with_listing_id(event: dict[str, Any], new_id: str) -> dict[str, Any]:
    """A copy of ``event`` with ``new_id`` for every string equal to its ``listingId`` (offerer ids too)."""
    old_id = event.get("listingId")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return new_id if value == old_id else value

    renamed: dict[str, Any] = walk(event)
    return renamed


def sample_body(sample: Sample, listing_id: str, media_base: str | None) -> bytes:
    """The sample as one run sends it: about ``listing_id``, its media on ``media_base`` if given."""
    event = sample.event
    if event.get("listingId") != listing_id:
        event = with_listing_id(event, listing_id)
    if media_base:
        event = rewrite_media_urls(event, media_base)
    return json.dumps(event, ensure_ascii=False).encode("utf-8")
