"""The reconcile run's time budget: when it stops starting listings, and when AVIV calls must end.

A run must never reach its Lambda timeout. The configured budget stops *starting* listings, but one
already started can take its worst case (:func:`listing_worst_case_seconds`), so with the Lambda's
remaining time known the last start is the earlier of the budget and the remaining time minus that
worst case. The worst case assumes a cached AVIV token; a token fetch or refresh can take longer,
so every AVIV call is also given a time limit that leaves the listing's tail
(:func:`listing_tail_seconds`) before the Lambda's end: a call cut short leaves its listing for the
next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitrine.core.ports import AvivPatience

# URL checks (5 s each at most) per listing and run; further failed media are checked next run.
MAX_URL_CHECKS_PER_LISTING = 4
# A listing's DynamoDB reads and writes and its SNS publishes, on top of its AVIV call and URL
# checks, in the worst case this margin allows for (each is normally a few milliseconds).
AWS_CALLS_ALLOWANCE_SECONDS = 10.0
# Waiting for another instance's token refresh (DynamoTokenCache: its 10 s lease + 5 s at most).
TOKEN_WAIT_ALLOWANCE_SECONDS = 15.0


def listing_worst_case_seconds(
    aviv: AvivPatience,
    *,
    probe_timeout_seconds: float | None,
    url_checks: int = MAX_URL_CHECKS_PER_LISTING,
) -> float:
    """How long reconciling one listing can take at worst, from the AVIV client's own limits.

    The status call (with the token cached): every attempt may use its whole connect and read
    timeouts, and between two attempts the client waits at most the longest ``Retry-After`` it
    honours (its backoff is capped lower). Then the URL checks (``probe_timeout_seconds`` each; None
    when automatic media retry is off and nothing is checked) and the DynamoDB/SNS calls.
    """
    per_attempt = aviv.connect_timeout + aviv.read_timeout
    longest_wait = max(aviv.backoff_cap, aviv.max_retry_after)
    status_call = aviv.max_attempts * per_attempt + (aviv.max_attempts - 1) * longest_wait
    return status_call + _after_aviv_seconds(probe_timeout_seconds, url_checks)


def _after_aviv_seconds(probe_timeout_seconds: float | None, url_checks: int) -> float:
    """A listing's URL checks and its DynamoDB/SNS calls, at worst."""
    probes = url_checks * probe_timeout_seconds if probe_timeout_seconds is not None else 0.0
    return probes + AWS_CALLS_ALLOWANCE_SECONDS


def listing_tail_seconds(
    *, probe_timeout_seconds: float | None, url_checks: int = MAX_URL_CHECKS_PER_LISTING
) -> float:
    """What a listing may still need once its AVIV calls are over (or cut short): URL checks,
    DynamoDB/SNS calls, and a wait on a token refresh the AVIV client's time limit does not cover."""
    return _after_aviv_seconds(probe_timeout_seconds, url_checks) + TOKEN_WAIT_ALLOWANCE_SECONDS


@dataclass(frozen=True, slots=True)
class RunDeadlines:
    """A run's two deadlines, on its monotonic clock."""

    start_until: float  # no listing is started at or after this
    aviv_until: float | None  # AVIV calls end by this; None when the Lambda's end is unknown

    @classmethod
    def from_budget(cls, started: float, budget_seconds: float) -> RunDeadlines:
        """Only the configured budget (the Lambda's remaining time is not known)."""
        return cls(start_until=started + max(0.0, budget_seconds), aviv_until=None)

    @classmethod
    def before_lambda_end(
        cls,
        started: float,
        budget_seconds: float,
        remaining_seconds: float,
        *,
        listing_margin_seconds: float,
        listing_tail_seconds: float,
    ) -> RunDeadlines:
        """The budget, cut so the last listing started still finishes before the Lambda's end."""
        budget = min(budget_seconds, remaining_seconds - listing_margin_seconds)
        return cls(
            start_until=started + max(0.0, budget),
            aviv_until=started + remaining_seconds - listing_tail_seconds,
        )
