"""What AVIV does after a 202: RECEIVED at once, then, per classified and in order, the media
downloads and the final status (CREATED/UPDATED, ``*_WITH_MEDIA_ERROR``, DELETED), each status pushed
to the scope's webhook when subscribed."""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from typing import Any

from devtools.aviv_emulator import outbound
from devtools.aviv_emulator.records import (
    Classified,
    Download,
    EmulatorSettings,
    Generation,
    Job,
    MediaState,
    iso,
    media_items,
    media_key,
    now,
)
from devtools.aviv_emulator.state import EmulatorState

logger = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    "RECEIVED": "The classified has successfully been transmitted to the next steps.",
    "CREATED": "The classified has successfully been created in our system.",
    "CREATED_WITH_MEDIA_ERROR": "The classified has been created but some media failed to be processed.",
    "UPDATED": "The classified has successfully been updated in our system.",
    "UPDATED_WITH_MEDIA_ERROR": "The classified has been updated but some media failed to be processed.",
    "DELETED": "The classified has successfully been deleted in our system.",
}


class Processing:
    """The asynchronous side of the emulator: one worker thread per classified with queued jobs."""

    def __init__(self, state: EmulatorState, settings: EmulatorSettings, stopping: threading.Event) -> None:
        self._state = state
        self._settings = settings
        self._stopping = stopping
        self._worker_slots = threading.BoundedSemaphore(16)

    def accept(self, classified: Classified, kind: str) -> None:
        """Record RECEIVED now (so a poll right after the 202 sees it) and queue the processing.
        Caller holds the lock."""
        received = new_status(
            classified,
            "RECEIVED",
            revision=classified.revision,
            body=classified.body,
            sub_status=f"RECEIVED_{kind}",
            media_statuses=[],
        )
        classified.statuses.append(received)
        job = Job(
            kind=kind, revision=classified.revision, body=copy.deepcopy(classified.body), received=received
        )
        classified.jobs.append(job)
        generation = self._state.generation
        generation.pending += 1
        if not classified.running:
            classified.running = True
            threading.Thread(
                target=self._drain,
                args=(classified, generation),
                name=f"aviv-job-{classified.classified_id[:8]}",
                daemon=True,
            ).start()

    def _drain(self, classified: Classified, generation: Generation) -> None:
        """Process one classified's jobs in order (AVIV applies a classified's calls in sequence)."""
        state = self._state
        with self._worker_slots:
            while True:
                with state.lock:
                    if not classified.jobs:
                        classified.running = False
                        return
                    job = classified.jobs.popleft()
                try:
                    if generation is state.generation and not self._stopping.is_set():
                        self._process(classified, job, generation)
                except Exception:
                    logger.exception("AVIV emulator failed processing %s", classified.classified_id)
                finally:
                    with state.idle:
                        generation.pending -= 1
                        state.idle.notify_all()

    def _process(self, classified: Classified, job: Job, generation: Generation) -> None:
        self._push(classified, job.received, generation)
        delay = self._settings.process_delay_seconds
        if delay > 0 and self._stopping.wait(delay):
            return
        if generation is not self._state.generation:
            return
        if job.kind == "DELETE":
            final = new_status(classified, "DELETED", revision=job.revision, body=job.body, media_statuses=[])
            self._settle(classified, {}, final, generation)
            return
        with self._state.lock:
            previous = dict(classified.media)
        items = media_items(job.body)
        results = self._download(_media_to_download(items, previous), classified.classified_id)
        if generation is not self._state.generation:
            return
        current, media_statuses = _media_outcome(items, previous, results, creating=job.kind == "POST")
        failures = sum(1 for m in current.values() if m.failed)
        name = ("CREATED" if job.kind == "POST" else "UPDATED") + ("_WITH_MEDIA_ERROR" if failures else "")
        final = new_status(
            classified,
            name,
            revision=job.revision,
            body=job.body,
            media_statuses=media_statuses,
            details=f"{failures} media could not be downloaded" if failures else None,
        )
        self._settle(classified, current, final, generation)

    def _settle(
        self,
        classified: Classified,
        media: dict[str, MediaState],
        final: dict[str, Any],
        generation: Generation,
    ) -> None:
        """Store the media AVIV now holds and the final status, then push that status."""
        with self._state.lock:
            classified.media = media
            classified.statuses.append(final)
        self._push(classified, final, generation)

    def _download(self, urls: list[str], classified_id: str) -> dict[str, Download]:
        """Fetch ``urls``; record every attempt."""
        results = outbound.download_all(urls, classified_id, self._settings.download_timeout_seconds)
        with self._state.lock:
            self._state.fetched.extend(results[url] for url in urls if url in results)
        return results

    def _push(self, classified: Classified, status: dict[str, Any], generation: Generation) -> None:
        """POST a status to the scope's webhook when subscribed to it; best effort, recorded."""
        state = self._state
        with state.lock:
            if generation is not state.generation:
                return
            subscription = state.webhooks.get(classified.scope)
            if subscription is None or status["status"] not in subscription["statuses"]:
                return
            target = f"{subscription['url'].rstrip('/')}/classifieds/{classified.classified_id}/statuses"
        pushed = outbound.push(target, classified.classified_id, status)
        with state.lock:
            if generation is state.generation:
                state.pushed.append(pushed)


def _media_to_download(items: list[dict[str, Any]], previous: dict[str, MediaState]) -> list[str]:
    """New media and media whose ``timestamp`` changed: the only ones AVIV fetches again."""
    to_download: list[str] = []
    for item in items:
        key, timestamp = media_key(item["url"])
        before = previous.get(key)
        if before is None or before.timestamp != timestamp:
            to_download.append(item["url"])
    return to_download


def _media_outcome(
    items: list[dict[str, Any]],
    previous: dict[str, MediaState],
    results: dict[str, Download],
    *,
    creating: bool,
) -> tuple[dict[str, MediaState], list[dict[str, str]]]:
    """The media AVIV holds after this job, and the per-media statuses of its final status."""
    current: dict[str, MediaState] = {}
    media_statuses: list[dict[str, str]] = []
    for item in items:
        url = item["url"]
        key, timestamp = media_key(url)
        before = previous.get(key)
        # unchanged media are not fetched again, and a failed one stays failed (AVIV does not retry)
        unchanged_failed = before.failed if before is not None else False
        failed = not results[url].ok if url in results else unchanged_failed
        current[key] = MediaState(url=url, timestamp=timestamp, failed=failed)
        if failed:
            media_status = "DOWNLOADING_FAILED"
        elif creating or before is None:
            media_status = "CREATED"
        else:
            media_status = "UPDATED"
        media_statuses.append({"url": url, "status": media_status})
    return current, media_statuses


def new_status(
    classified: Classified,
    name: str,
    *,
    revision: int,
    body: dict[str, Any],
    sub_status: str | None = None,
    media_statuses: list[dict[str, str]],
    details: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "statusId": str(uuid.uuid4()),
        "classifiedId": classified.classified_id,
        "customerId": classified.customer_id,
        "creationDate": iso(classified.created_at),
        "revision": revision,
        "portals": list(body.get("portals") or []),
        "status": name,
        "message": _STATUS_MESSAGES.get(name, name),
        "statusDate": iso(now()),
    }
    if sub_status is not None:
        status["subStatus"] = sub_status
    if details is not None:
        status["subStatusDetails"] = details
    status["mediaStatuses"] = media_statuses
    return status
