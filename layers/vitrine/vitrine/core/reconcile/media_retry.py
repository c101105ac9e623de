"""Automatic media retry: which failed media to check, what their URL checks mean, and re-stamping.

A ``DOWNLOADING_FAILED`` media whose URL now answers with an image or a video is sent again under a
new *retry version* (a new timestamp) so AVIV downloads it again, at most ``retry_attempts`` times
per media version and with backoff. A URL that does not answer usably is checked again with backoff
until ``retry_give_up_after``; the owner hears of it at once, and of a media whose retries ran out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from vitrine.core.model import base_media_version, retry_media_version
from vitrine.core.moments import format_moment, parse_moment
from vitrine.core.reconcile.aviv_status import DOWNLOADING_FAILED, FailedMedia, StatusReading
from vitrine.core.reconcile.policy import ReconcilePolicy, backoff
from vitrine.core.reconcile.records import MediaRetry, StatusState


@dataclass(frozen=True, slots=True)
class UrlCheck:
    """What a media URL answered (the adapter's probe result, as the core needs it)."""

    usable: bool
    reason: str  # completes "the URL ..." ("answers 404")


@dataclass(slots=True)
class RetryTriage:
    """The failed media sorted by automatic retry: whom the owner must hear of (and why), which are
    re-sent silently, and when a URL is to be checked next."""

    to_notify: list[tuple[FailedMedia, str]] = field(default_factory=list)
    to_retry: list[FailedMedia] = field(default_factory=list)
    next_checks: list[datetime] = field(default_factory=list)


def _retry_for(state: StatusState, failed: FailedMedia, now: datetime) -> MediaRetry:
    """The bookkeeping of ``failed``'s media version: the stored one, or a fresh one if the media
    failing now is another version or URL (a changed media starts afresh)."""
    assert failed.media_id is not None
    current = state.retries.get(failed.media_id)
    if (
        current is not None
        and current.base_version == base_media_version(failed.version)
        and current.url == failed.url
    ):
        return current
    return MediaRetry(
        media_id=failed.media_id,
        base_version=base_media_version(failed.version),
        url=failed.url or failed.sent_url,
        first_failed_at=format_moment(now),
    )


def _retryable(failed: FailedMedia, policy: ReconcilePolicy) -> bool:
    return policy.auto_media_retry and failed.status == DOWNLOADING_FAILED and failed.media_id is not None


def _gave_up(retry: MediaRetry, now: datetime, policy: ReconcilePolicy) -> bool:
    """Whether the media has failed for longer than an unreachable URL is checked again."""
    return now - (parse_moment(retry.first_failed_at) or now) >= policy.retry_give_up_after


def media_due_for_check(
    state: StatusState, reading: StatusReading, now: datetime, policy: ReconcilePolicy
) -> list[FailedMedia]:
    """The failed media whose URL should be checked now (auto-retry on, not exhausted, backoff over)."""
    if reading.outcome != "media_error" or not policy.auto_media_retry:
        return []
    due: list[FailedMedia] = []
    for failed in reading.failed_media:
        if not _retryable(failed, policy):
            continue
        retry = _retry_for(state, failed, now)
        if retry.exhausted:
            continue
        if retry.unreachable and _gave_up(retry, now, policy):
            continue
        next_check = parse_moment(retry.next_check_at)
        if next_check is None or next_check <= now:
            due.append(failed)
    return due


def triage_failed_media(
    state: StatusState,
    reading: StatusReading,
    now: datetime,
    policy: ReconcilePolicy,
    url_checks: Mapping[str, UrlCheck] | None,
) -> RetryTriage:
    """Sort the failed media into "tell the owner" and "retry silently", and update ``state.retries``.

    ``url_checks`` (by media id) are the results of checking the URLs :func:`media_due_for_check`
    named; a media without one keeps its bookkeeping as it is.
    """
    url_checks = url_checks or {}
    triage = RetryTriage()
    retries: dict[str, MediaRetry] = {}
    for failed in reading.failed_media:
        if not _retryable(failed, policy):
            triage.to_notify.append((failed, failed.default_reason()))
            continue
        assert failed.media_id is not None
        retry = _retry_for(state, failed, now)
        retries[failed.media_id] = retry
        check = url_checks.get(failed.media_id)
        if check is None:
            _await_check(triage, failed, retry, now, policy)
        else:
            _apply_check(triage, failed, retry, check, now, policy)
    # Keep only the bookkeeping of media failing now (a media that recovered starts afresh).
    state.retries = retries
    return triage


def _await_check(
    triage: RetryTriage, failed: FailedMedia, retry: MediaRetry, now: datetime, policy: ReconcilePolicy
) -> None:
    """A media not checked this time: exhausted, given up, waiting for its next check, or due but
    left for the next run (a run checks a few URLs per listing at most)."""
    if retry.exhausted or retry.unreachable:
        triage.to_notify.append((failed, _retry_reason(retry)))
    if not retry.exhausted and not (retry.unreachable and _gave_up(retry, now, policy)):
        triage.next_checks.append(max(now, parse_moment(retry.next_check_at) or now))


def _apply_check(
    triage: RetryTriage,
    failed: FailedMedia,
    retry: MediaRetry,
    check: UrlCheck,
    now: datetime,
    policy: ReconcilePolicy,
) -> None:
    """What the URL answered decides: re-send it, tell the owner the retries ran out, or tell the
    owner the URL is unreachable (and check it again with backoff until giving up)."""
    retry.probes += 1
    retry.last_result = check.reason
    if check.usable and retry.attempts < policy.retry_attempts:
        retry.attempts += 1
        retry.unreachable = False
        triage.next_checks.append(_schedule_check(retry, now, policy, retry.attempts - 1))
        triage.to_retry.append(failed)
    elif check.usable:
        retry.exhausted = True
        retry.next_check_at = None
        triage.to_notify.append((failed, _retry_reason(retry)))
    else:
        retry.unreachable = True
        triage.to_notify.append((failed, _retry_reason(retry)))
        if not _gave_up(retry, now, policy):
            triage.next_checks.append(_schedule_check(retry, now, policy, retry.probes - 1))
        else:
            retry.next_check_at = None


def _schedule_check(retry: MediaRetry, now: datetime, policy: ReconcilePolicy, step: int) -> datetime:
    """Set the media's next check ``step`` backoffs from now; as the stored moment reads back."""
    retry.next_check_at = format_moment(now + backoff(policy.retry_backoff, policy.retry_backoff_cap, step))
    return parse_moment(retry.next_check_at) or now


def _retry_reason(retry: MediaRetry) -> str:
    answered = f"the URL {retry.last_result}" if retry.last_result else "the URL could not be checked"
    if retry.exhausted:
        return f"still not downloaded after {retry.attempts} automatic retries ({answered})"
    return answered


def with_retry_versions(
    media: Sequence[Any], retry: Sequence[FailedMedia], attempts: Mapping[str, int]
) -> tuple[list[Any], list[str]]:
    """``media`` (CRM Media records) with each retried media's version renewed; and the ids renewed.

    A media is renewed only if it still has the URL and base version that failed: a CRM change that
    came meanwhile already gives it a new timestamp (and wins).
    """
    wanted = {f.media_id: f for f in retry if f.media_id is not None}
    renewed: list[str] = []
    out: list[Any] = []
    for item in media:
        failed = wanted.get(item.id)
        if (
            failed is not None
            and item.url == failed.url
            and base_media_version(item.version) == base_media_version(failed.version)
        ):
            out.append(replace(item, version=retry_media_version(item.version, attempts.get(item.id, 1))))
            renewed.append(item.id)
        else:
            out.append(item)
    return out, renewed
