"""The timing and switches of reconciliation, and the one backoff they are combined with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# How far AVIV's statusDate may run behind our sentAt and still answer our send: the two clocks
# differ, and statusDate may be truncated. Only used when AVIV's revision cannot decide.
DEFAULT_CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    """Timing and switches of reconciliation (from settings; tests shrink the durations)."""

    stuck_after: timedelta = timedelta(hours=2)
    # A send still processing is looked at again after base, 2*base, ... up to cap.
    recheck_base: timedelta = timedelta(minutes=1)
    recheck_cap: timedelta = timedelta(minutes=30)
    # A listing with an open problem is still looked at, slowly (the problem may clear on AVIV's side).
    open_problem_recheck: timedelta = timedelta(hours=1)
    open_problem_recheck_cap: timedelta = timedelta(hours=24)
    auto_media_retry: bool = False
    retry_attempts: int = 3
    # Between two automatic retries of one media, and between two checks of an unreachable URL.
    retry_backoff: timedelta = timedelta(minutes=5)
    retry_backoff_cap: timedelta = timedelta(hours=6)
    # An unreachable URL is checked again with backoff for this long, then left to the owner.
    retry_give_up_after: timedelta = timedelta(hours=24)
    clock_tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE  # see DEFAULT_CLOCK_TOLERANCE


def backoff(base: timedelta, cap: timedelta, step: int) -> timedelta:
    """``base * 2**step``, at most ``cap`` (rechecks of a listing, checks and retries of a media)."""
    seconds = base.total_seconds() * (2 ** max(0, min(step, 30)))
    return timedelta(seconds=min(cap.total_seconds(), seconds))
