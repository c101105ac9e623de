"""When to sync a listing: after its edits went quiet, or when its oldest unsent edit got too old.

A listing is synced when it has been quiet for the *consolidation window* or when its oldest
unsent edit reaches the *maximum delay*, whichever comes first — so a burst of edits becomes
one AVIV call, and a listing edited without pause still reaches AVIV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

# SQS refuses DelaySeconds above 15 minutes; a longer wait is done in several hops.
SQS_MAX_DELAY_SECONDS = 900


@dataclass(frozen=True, slots=True)
class ConsolidationPolicy:
    consolidation_window: timedelta
    max_delay: timedelta

    @classmethod
    def from_seconds(cls, consolidation_window: int, max_delay: int) -> ConsolidationPolicy:
        return cls(timedelta(seconds=consolidation_window), timedelta(seconds=max_delay))

    def due_at(self, last_edit_at: datetime, first_unsent_at: datetime) -> datetime:
        """The moment the listing should be synced."""
        return min(last_edit_at + self.consolidation_window, first_unsent_at + self.max_delay)


@dataclass(frozen=True, slots=True)
class ConsolidationStep:
    """What a sync message should do now: ``sync``, ``wait`` ``delay_seconds`` more, or ``drop`` (clean)."""

    action: Literal["sync", "wait", "drop"]
    delay_seconds: int = 0


def next_step(
    *,
    dirty: bool,
    last_edit_at: datetime | None,
    first_unsent_at: datetime | None,
    now: datetime,
    policy: ConsolidationPolicy,
) -> ConsolidationStep:
    """Decide from the listing's dirty state; pure, so the timing rules are unit-tested apart from SQS."""
    if not dirty:
        return ConsolidationStep("drop")
    if last_edit_at is None or first_unsent_at is None:
        return ConsolidationStep("sync")
    remaining = (policy.due_at(last_edit_at, first_unsent_at) - now).total_seconds()
    if remaining <= 0:
        return ConsolidationStep("sync")
    return ConsolidationStep("wait", min(SQS_MAX_DELAY_SECONDS, max(1, math.ceil(remaining))))


def retry_delay_seconds(receive_count: int, base: int = 10, cap: int = SQS_MAX_DELAY_SECONDS) -> int:
    """Growing back-off for a sync that failed with a retryable AVIV error (1st retry ``base`` s, then x2)."""
    exponent = max(0, receive_count - 1)
    return int(min(cap, base * (2 ** min(exponent, 16))))
