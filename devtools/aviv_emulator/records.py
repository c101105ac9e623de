"""What the emulator records and holds: the inspectable records, the per-classified state, AVIV's
vocabulary, and the media identity rule (``media_key``)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

API_PREFIX = "/caas/v4"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
INSPECT_PREFIX = "/_emulator"

CLASSIFIED_STATUSES = (
    "RECEIVING",
    "RECEIVED",
    "RECEIVING_FAILED",
    "CREATING",
    "CREATED",
    "CREATED_WITH_MEDIA_ERROR",
    "CREATING_FAILED",
    "UPDATING",
    "UPDATED",
    "UPDATED_WITH_MEDIA_ERROR",
    "UPDATING_FAILED",
    "DELETING",
    "DELETED",
    "DELETING_FAILED",
)
SUBSCRIBABLE_STATUSES = tuple(s for s in CLASSIFIED_STATUSES if not s.endswith("_WITH_MEDIA_ERROR"))
PORTALS = ("SL", "BUCOM", "BD", "SLC", "SLN")


# ====================================================================== public records
@dataclass(frozen=True)
class RecordedRequest:
    """One call to the token endpoint or the API (inspection calls are not recorded).

    ``path`` is relative to the API base for API calls (``/classifieds/<id>``), ``/oauth/token`` for
    token calls, the raw path otherwise; ``status`` is None when the emulator hung up without answering.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int | None
    at: datetime
    traceparent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


@dataclass(frozen=True)
class Download:
    """One media fetch AVIV made (real HTTP GET of the full URL, timestamp included)."""

    url: str
    classified_id: str
    status_code: int | None
    error: str | None
    ok: bool
    at: datetime
    bytes_read: int = 0
    content_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


@dataclass(frozen=True)
class WebhookPush:
    """One status pushed to a subscribed webhook URL, with the receiver's answer."""

    url: str
    classified_id: str
    status: str
    status_code: int | None
    error: str | None
    ok: bool
    at: datetime
    body: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


# ====================================================================== internal state
@dataclass
class Token:
    client_id: str
    audience: str
    intermediary_id: str | None
    expires_at: float  # time.monotonic()
    revoked: bool = False

    def valid(self) -> bool:
        return not self.revoked and time.monotonic() < self.expires_at


FAILED_MEDIA_STATUSES = ("DOWNLOADING_FAILED", "CREATING_FAILED")


@dataclass
class MediaState:
    """What AVIV holds for one media, keyed by its URL without ``timestamp``: ``status`` is the media
    status its last download left it in (CREATED, DOWNLOADING_FAILED, CREATING_FAILED, ACCEPTED…)."""

    url: str
    timestamp: str | None
    status: str

    @property
    def failed(self) -> bool:
        return self.status in FAILED_MEDIA_STATUSES


@dataclass
class Job:
    """One accepted call waiting for (or in) processing."""

    kind: str  # POST | PUT | DELETE
    revision: int
    body: dict[str, Any]
    receiving: dict[str, Any]  # the RECEIVING status recorded when the call was accepted
    previous_body: dict[str, Any] | None  # what the classified held before (restored on a failure)
    failure: str | None = None  # the *_FAILED status this call ends in, when one was asked for
    failure_details: str | None = None


@dataclass
class Classified:
    classified_id: str
    scope: str
    intermediary_id: str | None
    customer_id: str
    body: dict[str, Any]
    revision: int
    created_at: datetime
    sequence: int
    deleted: bool = False
    statuses: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, MediaState] = field(default_factory=dict)
    jobs: deque[Job] = field(default_factory=deque)
    running: bool = False

    @property
    def offerer_estate_id(self) -> str | None:
        return offerer_estate_id(self.body)


@dataclass
class Fault:
    remaining: int
    status: int
    retry_after: float | None
    timeout: bool
    paths: str
    method: str | None
    hang_seconds: float
    reset: bool = False
    """Close the connection abruptly (TCP RST) instead of answering."""
    after_processing: bool = False
    """Handle the call first (AVIV's state changes), then lose the answer (hang or reset)."""
    probability: float = 1.0
    """Each matching call is hit with this probability (a unit is consumed only when hit)."""

    @property
    def loses_answer(self) -> bool:
        return self.timeout or self.reset

    def matches(self, kind: str, path: str, method: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.paths in ("*", ""):
            return kind in ("api", "token")
        if self.paths.startswith(TOKEN_PATH):
            return kind == "token"
        return kind == "api" and (path == self.paths or path.startswith(self.paths.rstrip("/") + "/"))


@dataclass
class Generation:
    """Work accounting for one reset() epoch: jobs of an older epoch never touch the new state."""

    number: int
    pending: int = 0


# ====================================================================== body reading
def media_key(url: str) -> tuple[str, str | None]:
    """(URL without its ``timestamp`` query parameter, the timestamp or None).

    Two media are the same media when their keys are equal; a changed timestamp means "download again".
    The other parameters are kept byte for byte; empty ones (``?&x=1&``) are dropped, so that adding a
    timestamp to a URL and removing it gives back the same identity.
    """
    without_fragment, hash_sign, fragment = url.partition("#")
    path, question_mark, query = without_fragment.partition("?")
    timestamp: str | None = None
    if question_mark:
        kept: list[str] = []
        for part in query.split("&"):
            name, equals, value = part.partition("=")
            if name == "timestamp":
                timestamp = value if equals else ""
            elif part:
                kept.append(part)
        path = path + ("?" + "&".join(kept) if kept else "")
    return path + (hash_sign + fragment if hash_sign else ""), timestamp


def media_items(body: Any) -> list[dict[str, Any]]:
    media = body.get("media") if isinstance(body, dict) else None
    if not isinstance(media, list):
        return []
    return [item for item in media if isinstance(item, dict) and isinstance(item.get("url"), str)]


def offerer_estate_id(body: Any) -> str | None:
    try:
        value = body["data"]["metaData"]["source"]["offererEstateId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def etag(revision: int) -> str:
    return f'"{revision}"'


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
