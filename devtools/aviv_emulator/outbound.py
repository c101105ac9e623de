"""The HTTP calls AVIV makes: media downloads (a real GET of each URL, kept only when it is an image
or a video under the size limit) and webhook status pushes (tried again until answered 201)."""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import requests as requests_lib

from devtools.aviv_emulator.records import Download, WebhookPush, now

_DOWNLOAD_CONCURRENCY = 8
_WEBHOOK_TIMEOUT_SECONDS = 2.0
_ACCEPTED_MEDIA_TYPES = ("image/", "video/")


def download_all(urls: list[str], classified_id: str, timeout: float, max_bytes: int) -> dict[str, Download]:
    """Fetch ``urls`` with a few parallel workers; one Download per URL."""
    results: dict[str, Download] = {}
    if not urls:
        return results
    work: deque[str] = deque(urls)
    results_lock = threading.Lock()

    def worker() -> None:
        while True:
            with results_lock:
                if not work:
                    return
                url = work.popleft()
            outcome = download(url, classified_id, timeout, max_bytes)
            with results_lock:
                results[url] = outcome

    threads = [
        threading.Thread(target=worker, name="aviv-download", daemon=True)
        for _ in range(min(_DOWNLOAD_CONCURRENCY, len(urls)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def download(url: str, classified_id: str, timeout: float, max_bytes: int) -> Download:
    """GET the whole file; ok only for a 2xx image/* or video/* of at most ``max_bytes``."""
    found: dict[str, Any] = {"status_code": None, "content_type": None, "bytes_read": 0}
    try:
        with requests_lib.Session() as session:
            session.trust_env = False  # loopback only: never through a proxy from the environment
            headers = {"User-Agent": "aviv-emulator-media-fetcher/1.0"}
            with session.get(url, timeout=timeout, stream=True, headers=headers) as response:
                found["status_code"] = response.status_code
                found["content_type"] = response.headers.get("Content-Type")
                error = _refusal(response, found, max_bytes)
    except (requests_lib.RequestException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Download(
        url=url,
        classified_id=classified_id,
        error=error,
        ok=error is None,
        at=now(),
        **found,
    )


def _refusal(response: requests_lib.Response, found: dict[str, Any], max_bytes: int) -> str | None:
    """Why this answer is not a usable media (None: it is), reading the body to count its bytes."""
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}"
    media_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if not media_type.startswith(_ACCEPTED_MEDIA_TYPES):
        return f"content type {media_type or 'missing'!r} is neither an image nor a video"
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return f"file too large: {declared} bytes > {max_bytes}"
    for chunk in response.iter_content(64 * 1024):
        found["bytes_read"] += len(chunk)
        if found["bytes_read"] > max_bytes:
            return f"file too large: more than {max_bytes} bytes"
    return None


def push(target: str, classified_id: str, body: dict[str, Any], attempt: int) -> WebhookPush:
    """POST one status to a webhook URL once; the answer as a WebhookPush (ok only on 201)."""
    status_code: int | None = None
    error: str | None = None
    try:
        with requests_lib.Session() as session:
            session.trust_env = False
            answer = session.post(
                target,
                json=body,
                timeout=_WEBHOOK_TIMEOUT_SECONDS,
                headers={"User-Agent": "aviv-emulator-webhook/1.0"},
            )
            status_code = answer.status_code
    except requests_lib.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    if status_code is not None and status_code != 201:
        error = f"HTTP {status_code} (expected 201)"
    return WebhookPush(
        url=target,
        classified_id=classified_id,
        status=body["status"],
        status_code=status_code,
        error=error,
        ok=status_code == 201,
        at=now(),
        body=copy.deepcopy(body),
        attempt=attempt,
    )


def push_until_accepted(
    target: str,
    classified_id: str,
    body: dict[str, Any],
    *,
    attempts: int,
    backoff_seconds: float,
    record: Callable[[WebhookPush], bool],
    wait: Callable[[float], bool],
) -> None:
    """Push, and push again after ``backoff_seconds`` (doubling) until a 201 or ``attempts`` tries.

    ``record`` keeps each attempt and answers False when the work is outdated (a reset); ``wait``
    sleeps and answers True when the emulator is stopping. Either ends the retries."""
    delay = backoff_seconds
    for attempt in range(1, max(1, attempts) + 1):
        pushed = push(target, classified_id, body, attempt)
        if not record(pushed) or pushed.ok or attempt >= attempts:
            return
        if wait(delay):
            return
        delay *= 2
