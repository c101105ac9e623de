"""Everything AVIV holds in memory (classifieds, tokens, webhooks, faults, recordings) behind one lock.

Routes and processing change it under ``lock``; the inspection methods hand out copies, so a test can
read while the emulator works.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from dataclasses import asdict
from typing import Any

from devtools.aviv_emulator.outcomes import Outcomes
from devtools.aviv_emulator.records import (
    Classified,
    Download,
    Fault,
    Generation,
    RecordedRequest,
    Token,
    WebhookPush,
    etag,
    iso,
)


class EmulatorState:
    """The in-memory store, its lock, and the reset() epoch that outdated work checks against."""

    def __init__(self, max_recorded: int) -> None:
        self.lock = threading.RLock()
        self.idle = threading.Condition(self.lock)
        self.generation = Generation(0)
        self.tokens: dict[str, Token] = {}
        self.token_request_count = 0
        self.classifieds: dict[str, Classified] = {}
        self.sequence = 0
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.faults: list[Fault] = []
        self.random = random.Random(1)  # probabilistic faults hit the same calls run after run
        self.outcomes = Outcomes()
        # Bounded so a long `make local` session cannot grow without limit (the oldest are forgotten).
        self.recorded: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self.fetched: deque[Download] = deque(maxlen=max_recorded)
        self.pushed: deque[WebhookPush] = deque(maxlen=max_recorded)

    # ------------------------------------------------------------------ inspection (thread-safe copies)
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self.recorded)

    def downloads(self) -> list[Download]:
        with self.lock:
            return list(self.fetched)

    def webhook_pushes(self) -> list[WebhookPush]:
        with self.lock:
            return list(self.pushed)

    def token_requests(self) -> int:
        with self.lock:
            return self.token_request_count

    def classified(self, classified_id: str) -> dict[str, Any] | None:
        with self.lock:
            stored = self.classifieds.get(classified_id)
            if stored is None or stored.deleted:
                return None
            return copy.deepcopy(stored.body)

    def etag(self, classified_id: str) -> str | None:
        with self.lock:
            stored = self.classifieds.get(classified_id)
            return None if stored is None else etag(stored.revision)

    def statuses(self, classified_id: str) -> list[dict[str, Any]]:
        with self.lock:
            stored = self.classifieds.get(classified_id)
            return copy.deepcopy(stored.statuses) if stored else []

    def classified_id_for(self, offerer_estate_id: str, intermediary_id: str | None) -> str | None:
        with self.lock:
            candidates = [
                c
                for c in self.classifieds.values()
                if c.offerer_estate_id == offerer_estate_id
                and (intermediary_id is None or c.intermediary_id == intermediary_id)
            ]
            if not candidates:
                return None
            candidates.sort(key=lambda c: (not c.deleted, c.sequence))
            return candidates[-1].classified_id

    def snapshot(self) -> dict[str, Any]:
        """Everything held, JSON-ready."""
        with self.lock:
            return {
                "classifieds": [
                    _classified_snapshot(c)
                    for c in sorted(self.classifieds.values(), key=lambda c: c.sequence)
                ],
                "statuses": {cid: copy.deepcopy(c.statuses) for cid, c in self.classifieds.items()},
                "token_requests": self.token_request_count,
                "webhooks": copy.deepcopy(self.webhooks),
                "pending_jobs": self.generation.pending,
                "faults": [asdict(f) for f in self.faults],
                "outcomes": self.outcomes.snapshot(),
            }

    # ------------------------------------------------------------------ controls
    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.revoked = True

    def wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.idle:
            generation = self.generation
            while generation.pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"AVIV emulator still has {generation.pending} job(s) after {timeout}s"
                    )
                self.idle.wait(remaining)

    def wait_for_status(self, classified_id: str, name: str, timeout: float) -> dict[str, Any]:
        """Block until this classified's latest status is ``name``; that status (a copy)."""
        deadline = time.monotonic() + timeout
        with self.idle:
            while True:
                stored = self.classifieds.get(classified_id)
                if stored is not None and stored.statuses and stored.statuses[-1]["status"] == name:
                    return copy.deepcopy(stored.statuses[-1])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    latest = stored.statuses[-1]["status"] if stored and stored.statuses else None
                    raise TimeoutError(
                        f"classified {classified_id} is still {latest} after {timeout}s, not {name}"
                    )
                self.idle.wait(remaining)

    def reset(self) -> None:
        with self.idle:
            self.generation = Generation(self.generation.number + 1)
            self.classifieds.clear()
            self.webhooks.clear()
            self.faults.clear()
            self.outcomes.clear()
            self.recorded.clear()
            self.fetched.clear()
            self.pushed.clear()
            self.token_request_count = 0
            self.idle.notify_all()

    # ------------------------------------------------------------------ used by the routes
    def count_token_request(self) -> None:
        with self.lock:
            self.token_request_count += 1

    def take_fault(self, kind: str, path: str, method: str) -> Fault | None:
        """Consume one unit of the first fault matching this call, if any."""
        with self.lock:
            fault = next((f for f in self.faults if f.matches(kind, path, method)), None)
            if fault is None or (fault.probability < 1.0 and self.random.random() >= fault.probability):
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            return fault

    def token(self, access_token: str) -> Token | None:
        """The live token with this value, or None (unknown, revoked or expired)."""
        with self.lock:
            token = self.tokens.get(access_token)
            return token if token is not None and token.valid() else None

    def record_status(self, classified: Classified, status: dict[str, Any]) -> None:
        """Append a status and wake whoever waits for one (caller holds the lock)."""
        classified.statuses.append(status)
        self.idle.notify_all()

    def holder_of(
        self, offerer_estate_id: str, scope: str, *, exclude: str | None, reserved: bool
    ) -> Classified | None:
        """The classified of this scope holding ``offerer_estate_id``: the live one, else (``reserved``:
        AVIV keeps a deleted classified's id) the latest deleted one. Caller holds the lock."""
        holders = [
            c
            for c in self.classifieds.values()
            if c.scope == scope
            and c.classified_id != exclude
            and c.offerer_estate_id == offerer_estate_id
            and (reserved or not c.deleted)
        ]
        holders.sort(key=lambda c: (not c.deleted, c.sequence))
        return holders[-1] if holders else None

    def visible(self, classified_id: str, scope: str) -> Classified | None:
        """The live classified of this scope (caller holds the lock)."""
        classified = self.classifieds.get(classified_id)
        if classified is None or classified.deleted or classified.scope != scope:
            return None
        return classified


def _classified_snapshot(c: Classified) -> dict[str, Any]:
    return {
        "classifiedId": c.classified_id,
        "intermediaryId": c.intermediary_id,
        "customerId": c.customer_id,
        "offererEstateId": c.offerer_estate_id,
        "revision": c.revision,
        "etag": etag(c.revision),
        "deleted": c.deleted,
        "createdAt": iso(c.created_at),
        "body": copy.deepcopy(c.body),
        "media": [{**asdict(m), "failed": m.failed} for m in c.media.values()],
    }
