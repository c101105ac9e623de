"""The HTTP calls AVIV makes: media downloads (a real GET of each URL) and webhook status pushes."""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import Any

import requests as requests_lib

from devtools.aviv_emulator.records import Download, WebhookPush, now

_MAX_DOWNLOAD_BYTES = 4 * 1024 * 1024  # a real portal reads the whole file; a few MB is enough to prove it
_DOWNLOAD_CONCURRENCY = 8
_WEBHOOK_TIMEOUT_SECONDS = 2.0


def download_all(urls: list[str], classified_id: str, timeout: float) -> dict[str, Download]:
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
            outcome = download(url, classified_id, timeout)
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


def download(url: str, classified_id: str, timeout: float) -> Download:
    bytes_read = 0
    try:
        with requests_lib.Session() as session:
            session.trust_env = False  # loopback only: never through a proxy from the environment
            with session.get(
                url,
                timeout=timeout,
                stream=True,
                headers={"User-Agent": "aviv-emulator-media-fetcher/1.0"},
            ) as response:
                for chunk in response.iter_content(64 * 1024):
                    bytes_read += len(chunk)
                    if bytes_read >= _MAX_DOWNLOAD_BYTES:
                        break
                ok = 200 <= response.status_code < 300
                return Download(
                    url=url,
                    classified_id=classified_id,
                    status_code=response.status_code,
                    error=None if ok else f"HTTP {response.status_code}",
                    ok=ok,
                    at=now(),
                    bytes_read=bytes_read,
                )
    except (requests_lib.RequestException, ValueError) as exc:
        return Download(
            url=url,
            classified_id=classified_id,
            status_code=None,
            error=f"{type(exc).__name__}: {exc}",
            ok=False,
            at=now(),
            bytes_read=bytes_read,
        )


def push(target: str, classified_id: str, status: dict[str, Any]) -> WebhookPush:
    """POST one status to a webhook URL, once (best effort); the answer as a WebhookPush."""
    status_code: int | None = None
    error: str | None = None
    try:
        with requests_lib.Session() as session:
            session.trust_env = False
            answer = session.post(
                target,
                json=status,
                timeout=_WEBHOOK_TIMEOUT_SECONDS,
                headers={"User-Agent": "aviv-emulator-webhook/1.0"},
            )
            status_code = answer.status_code
    except requests_lib.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    return WebhookPush(
        url=target,
        classified_id=classified_id,
        status=status["status"],
        status_code=status_code,
        error=error,
        ok=status_code == 201,
        at=now(),
        body=copy.deepcopy(status),
    )
