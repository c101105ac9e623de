"""Outcomes a test asks for: calls that end ``*_FAILED`` and media that end CREATING_FAILED, ACCEPTED
or DOWNLOADING — answers AVIV gives that a loopback world never provokes by itself.

Held by ``EmulatorState`` and read under its lock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from devtools.aviv_emulator.records import media_key

# Each *_FAILED classified status, and the verb of the calls it can end (None: any call).
CLASSIFIED_FAILURES: dict[str, str | None] = {
    "RECEIVING_FAILED": None,
    "CREATING_FAILED": "POST",
    "UPDATING_FAILED": "PUT",
    "DELETING_FAILED": "DELETE",
}
# Media statuses a test can ask for; DOWNLOADING_FAILED comes from a real failed download.
FORCEABLE_MEDIA_STATUSES = ("CREATING_FAILED", "ACCEPTED", "DOWNLOADING")


@dataclass
class ForcedFailure:
    """The next ``remaining`` matching calls end in ``status`` instead of being applied."""

    remaining: int
    status: str
    details: str | None
    offerer_estate_id: str | None

    def matches(self, kind: str, offerer_estate_id: str | None) -> bool:
        verb = CLASSIFIED_FAILURES[self.status]
        if verb is not None and verb != kind:
            return False
        return self.offerer_estate_id is None or self.offerer_estate_id == offerer_estate_id


@dataclass
class Outcomes:
    """The pending forced failures and the media whose downloads end in a chosen status."""

    failures: list[ForcedFailure] = field(default_factory=list)
    media: dict[str, str] = field(default_factory=dict)  # media key (URL without timestamp) -> status

    def add_failure(self, failure: ForcedFailure) -> None:
        if failure.status not in CLASSIFIED_FAILURES:
            allowed = ", ".join(CLASSIFIED_FAILURES)
            raise ValueError(f"status must be one of {allowed}, not {failure.status!r}")
        if failure.remaining < 0:
            raise ValueError("count must be >= 0")
        if failure.remaining > 0:
            self.failures.append(failure)

    def take_failure(self, kind: str, offerer_estate_id: str | None) -> ForcedFailure | None:
        """Consume one unit of the first failure asked for this call, if any."""
        failure = next((f for f in self.failures if f.matches(kind, offerer_estate_id)), None)
        if failure is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self.failures.remove(failure)
        return failure

    def set_media_status(self, url: str, status: str | None) -> None:
        """Downloads of this media (any timestamp) end in ``status``; None goes back to normal."""
        key, _ = media_key(url)
        if status is None:
            self.media.pop(key, None)
            return
        if status not in FORCEABLE_MEDIA_STATUSES:
            allowed = ", ".join(FORCEABLE_MEDIA_STATUSES)
            raise ValueError(f"media status must be one of {allowed}, not {status!r}")
        self.media[key] = status

    def media_status(self, url: str) -> str | None:
        return self.media.get(media_key(url)[0])

    def clear(self) -> None:
        self.failures.clear()
        self.media.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"failures": [asdict(f) for f in self.failures], "media": dict(self.media)}
