"""What AVIV does after a 202, per classified and in order: RECEIVING at once; after
``receive_delay_seconds`` RECEIVED then CREATING/UPDATING/DELETING; after ``process_delay_seconds``
the media downloads and the final status (CREATED/UPDATED, ``*_WITH_MEDIA_ERROR``, DELETED, or the
``*_FAILED`` a test asked for). Each status is pushed to the scope's webhook when subscribed."""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from devtools.aviv_emulator import outbound
from devtools.aviv_emulator.media_outcome import failure_count, media_outcome, media_to_download
from devtools.aviv_emulator.records import Classified, Download, Generation, Job, WebhookPush
from devtools.aviv_emulator.settings import EmulatorSettings
from devtools.aviv_emulator.state import EmulatorState
from devtools.aviv_emulator.statuses import PROCESSING_STATUS, new_status, pushed_body

logger = logging.getLogger(__name__)


class Processing:
    """The asynchronous side of the emulator: one worker thread per classified with queued jobs."""

    def __init__(self, state: EmulatorState, settings: EmulatorSettings, stopping: threading.Event) -> None:
        self._state = state
        self._settings = settings
        self._stopping = stopping
        self._worker_slots = threading.BoundedSemaphore(16)

    def accept(self, classified: Classified, kind: str, previous_body: dict[str, Any] | None) -> None:
        """Record RECEIVING now (a poll right after the 202 sees this call) and queue the processing.
        Caller holds the lock."""
        state = self._state
        body = copy.deepcopy(classified.body)
        receiving = new_status(classified, "RECEIVING", kind=kind, revision=classified.revision, body=body)
        state.record_status(classified, receiving)
        failure = state.outcomes.take_failure(kind, classified.offerer_estate_id)
        classified.jobs.append(
            Job(
                kind=kind,
                revision=classified.revision,
                body=body,
                receiving=receiving,
                previous_body=previous_body,
                failure=failure.status if failure else None,
                failure_details=failure.details if failure else None,
            )
        )
        generation = state.generation
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
        self._push(classified, job.receiving, generation)
        if not self._waited(self._settings.receive_delay_seconds, generation):
            return
        if job.failure == "RECEIVING_FAILED":
            self._fail(classified, job, generation)
            return
        for step in ("RECEIVED", PROCESSING_STATUS[job.kind]):
            self._step(classified, job, step, generation)
        if not self._waited(self._settings.process_delay_seconds, generation):
            return
        if job.failure is not None:
            self._fail(classified, job, generation)
        elif job.kind == "DELETE":
            self._step(classified, job, "DELETED", generation)
        else:
            self._apply_media(classified, job, generation)

    def _waited(self, seconds: float, generation: Generation) -> bool:
        """Wait; False when the emulator stopped or was reset meanwhile (the job is then dropped)."""
        if seconds > 0 and self._stopping.wait(seconds):
            return False
        return generation is self._state.generation

    def _step(self, classified: Classified, job: Job, name: str, generation: Generation) -> None:
        status = new_status(classified, name, kind=job.kind, revision=job.revision, body=job.body)
        with self._state.lock:
            if generation is not self._state.generation:
                return
            self._state.record_status(classified, status)
        self._push(classified, status, generation)

    def _apply_media(self, classified: Classified, job: Job, generation: Generation) -> None:
        """Download what changed, then store the media AVIV now holds and the final status."""
        with self._state.lock:
            previous = dict(classified.media)
        items = [m for m in job.body.get("media") or [] if isinstance(m, dict)]
        results = self._download(media_to_download(items, previous), classified.classified_id)
        with self._state.lock:
            if generation is not self._state.generation:
                return
            current, media_statuses = media_outcome(
                items, previous, results, self._state.outcomes.media_status, creating=job.kind == "POST"
            )
            failures = failure_count(current)
            name = "CREATED" if job.kind == "POST" else "UPDATED"
            final = new_status(
                classified,
                name + ("_WITH_MEDIA_ERROR" if failures else ""),
                kind=job.kind,
                revision=job.revision,
                body=job.body,
                media_statuses=media_statuses,
                details=f"{failures} media could not be processed" if failures else None,
            )
            classified.media = current
            self._state.record_status(classified, final)
        self._push(classified, final, generation)

    def _fail(self, classified: Classified, job: Job, generation: Generation) -> None:
        """End the call in the failure asked for; AVIV holds what it held before the call."""
        assert job.failure is not None
        details = job.failure_details or "Failure produced on demand by the AVIV emulator."
        status = new_status(
            classified, job.failure, kind=job.kind, revision=job.revision, body=job.body, details=details
        )
        with self._state.lock:
            if generation is not self._state.generation:
                return
            if classified.revision == job.revision:  # no later call replaced what this one sent
                if job.kind == "DELETE":
                    holder = (
                        self._state.holder_of(
                            classified.offerer_estate_id,
                            classified.scope,
                            exclude=classified.classified_id,
                            reserved=False,
                        )
                        if classified.offerer_estate_id is not None
                        else None
                    )
                    classified.deleted = holder is not None  # its id was taken again meanwhile
                elif job.previous_body is None:
                    classified.deleted = True  # a failed POST created nothing
                else:
                    classified.body = job.previous_body
            self._state.record_status(classified, status)
        self._push(classified, status, generation)

    def _download(self, urls: list[str], classified_id: str) -> dict[str, Download]:
        """Fetch ``urls``; record every attempt."""
        settings = self._settings
        results = outbound.download_all(
            urls, classified_id, settings.download_timeout_seconds, settings.max_media_bytes
        )
        with self._state.lock:
            self._state.fetched.extend(results[url] for url in urls if url in results)
        return results

    def _push(self, classified: Classified, status: dict[str, Any], generation: Generation) -> None:
        """POST a status to the scope's webhook when subscribed to it, retried until answered 201."""
        state = self._state
        with state.lock:
            if generation is not state.generation:
                return
            subscription = state.webhooks.get(classified.scope)
            if subscription is None or status["status"] not in subscription["statuses"]:
                return
            target = f"{subscription['url'].rstrip('/')}/classifieds/{classified.classified_id}/statuses"

        def record(pushed: WebhookPush) -> bool:
            with state.lock:
                if generation is not state.generation:
                    return False
                state.pushed.append(pushed)
                return True

        outbound.push_until_accepted(
            target,
            classified.classified_id,
            pushed_body(status),
            attempts=self._settings.webhook_attempts,
            backoff_seconds=self._settings.webhook_backoff_seconds,
            record=record,
            wait=self._stopping.wait,
        )
