"""``make local`` (``python -m devtools.local_stack``): start the stack, print where it is, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import devtools.local_stack
from devtools.demo import demo_owner_id
from devtools.lambda_runtime import ensure_layer_on_path
from devtools.local_stack.log_lines import LOCAL_LINE_FORMAT, LOCAL_TIME_FORMAT, use_log_format
from devtools.local_stack.settings import (
    STACK_FILE,
    LocalSettings,
    LocalStackError,
    owner_page_secret,
    write_private,
)
from devtools.local_stack.stack import LocalStack, LocalStackInfo

CURL_LISTING_ID = "LOCAL-CURL-0001"
CURL_MEDIA_PATH = "/photos/local-curl/facade.jpg"
PUBLIC_MEDIA_BASE = "https://example.com"
"""Used only when no local media server runs: AVIV (or its emulator) must then reach the photo itself."""


def _curl_event(now: datetime, media_base: str, owner_id: str) -> dict[str, Any]:
    """A small but complete ``listing.upserted``: one apartment in Lyon with one photo."""
    return {
        "type": "listing.upserted",
        "listingId": CURL_LISTING_ID,
        "ownerId": owner_id,
        "occurredAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sequence": 1,
        "listing": {
            "portals": ["SL"],
            "data": {
                "estateType": "APARTMENT",
                "distributionType": "BUY",
                "prices": {"currency": "EUR", "buy": {"price": {"amount": 250000, "isVatIncluded": True}}},
                "location": {
                    "postalcode": "69002",
                    "city": "Lyon",
                    "street": "Rue Merciere",
                    "houseNumber": "12",
                    "country": "FR",
                },
                "metaData": {
                    "source": {
                        "sourceSystem": "curl",
                        "sourceSystemVersion": "1.0.0",
                        "offererMarketingKey": CURL_LISTING_ID,
                        "offererEstateId": CURL_LISTING_ID,
                    }
                },
            },
            "media": [
                {
                    "id": "photo-1",
                    "url": media_base.rstrip("/") + CURL_MEDIA_PATH,
                    "mediaType": "PICTURE",
                    "version": "1",
                }
            ],
        },
    }


def curl_example(
    webhook_url: str,
    secret: str,
    now: datetime | None = None,
    *,
    media_base: str | None = None,
    owner_id: str | None = None,
) -> str:
    """A signed ``listing.upserted`` as a ready-to-paste curl command (valid for 5 minutes).

    Its photo is served by ``media_base`` (the local media server), so the AVIV emulator's download
    succeeds on the first try; its owner is the samples' (``events/webhooks/``), the demo owner.
    """
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import signed_headers

    now = now or datetime.now(UTC)
    event = _curl_event(now, media_base or PUBLIC_MEDIA_BASE, owner_id or demo_owner_id())
    body = json.dumps(event, separators=(",", ":"))
    headers = signed_headers(secret, body.encode("utf-8"), timestamp=int(now.timestamp()))
    lines = [f"curl -sS -i -X POST {shlex.quote(webhook_url)}", "-H 'content-type: application/json'"]
    lines += [shlex.quote(f"{name}: {value}").join(("-H ", "")) for name, value in headers.items()]
    lines.append(f"--data-raw {shlex.quote(body)}")
    return " \\\n    ".join(lines)


def owner_page_url(info: LocalStackInfo, settings: LocalSettings, now: datetime | None = None) -> str | None:
    """The demo owner's status page, signed with ``.local/owner-page-secret`` (None: no secret file)."""
    if settings.owner_page_secret_file is None:
        return None
    ensure_layer_on_path()
    from vitrine.core.owner_links import link_expiry, owner_page_path

    secret = owner_page_secret(settings.owner_page_secret_file)
    expires = link_expiry(now or datetime.now(UTC))
    return info.api_url + owner_page_path(secret, demo_owner_id(), expires)


def banner(info: LocalStackInfo, settings: LocalSettings, owner_page: str | None = None) -> str:
    aviv = f"{info.aviv_api_url} ({'emulator' if info.emulator is not None else 'AVIV_API_URL'})"
    saved = f" (saved in {settings.secret_file})" if settings.secret_file else ""
    inbox = str(info.inbox_path) if info.inbox_path else "(memory only)"
    lines = [
        "",
        "vitrine is running locally: no AWS account, everything on 127.0.0.1.",
        "",
        f"  webhook URL      {info.webhook_url}",
        f"  health           {info.health_url}",
        f"  signing secret   {info.webhook_secret}{saved}",
        f"  AVIV             {aviv}",
        f"  AWS (moto)       {info.moto_endpoint}  region {info.region}, resources {info.prefix}*",
        f"  notifications    {inbox}",
        f"  media host       {info.media_url or '(off)'}",
        f"  consolidation    quiet {settings.debounce_seconds} s, at most {settings.max_delay_seconds} s",
    ]
    lines += [f"  runs             {line}" for line in info.wiring]
    lines += [f"  not running      {line}" for line in info.skipped]
    if owner_page:
        lines += [
            "",
            f"Owner status page of the demo owner ({demo_owner_id()}, link valid 30 days):",
            f"  {owner_page}",
        ]
    lines += [
        "",
        "In another terminal, `make demo` posts the sample webhooks (events/webhooks/) and shows what",
        "reached AVIV. Or send one yourself (the signature is valid for 5 minutes; its photo is on the",
        "local media host, so AVIV's download succeeds):",
        "",
        "  " + curl_example(info.webhook_url, info.webhook_secret, media_base=info.media_url),
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def stack_description(
    info: LocalStackInfo, settings: LocalSettings, owner_page: str | None = None
) -> dict[str, Any]:
    """What ``.local/stack.json`` holds for ``make demo`` and the ``vitrine`` CLI (docs/cli.md): where
    every endpoint and resource of the running ``make local`` is. Secrets stay in their own files."""
    emulator = info.emulator
    environment = info.function_environment or {}
    queue_urls = info.queue_urls or {}
    return {
        "pid": os.getpid(),
        "api_url": info.api_url,
        "webhook_url": info.webhook_url,
        "health_url": info.health_url,
        "aviv_api_url": info.aviv_api_url,
        "aviv_auth_url": info.aviv_auth_url,
        "aviv_inspect_url": f"{emulator.root_url}/_emulator" if emulator is not None else None,
        "aviv_intermediary_id": environment.get("AVIV_INTERMEDIARY_ID") or None,
        "media_url": info.media_url,
        "moto_endpoint": info.moto_endpoint,
        "region": info.region,
        "state_table": environment.get("VITRINE_STATE_TABLE"),
        "sync_queue_url": queue_urls.get("SyncQueue"),
        "dead_letter_queue_url": queue_urls.get("SyncDeadLetterQueue"),
        "topic_arn": environment.get("VITRINE_TOPIC_ARN"),
        "webhook_secret_arn": environment.get("VITRINE_WEBHOOK_SECRET_ARN"),
        "aviv_secret_arn": environment.get("VITRINE_AVIV_SECRET_ARN"),
        "inbox": str(info.inbox_path) if info.inbox_path else None,
        "secret_file": str(settings.secret_file) if settings.secret_file else None,
        "owner_page_secret_file": str(settings.owner_page_secret_file)
        if settings.owner_page_secret_file
        else None,
        "source_system": environment.get("VITRINE_SOURCE_SYSTEM"),
        "source_system_version": environment.get("VITRINE_SOURCE_SYSTEM_VERSION")
        or environment.get("VITRINE_USER_AGENT_VERSION"),
        "default_portals": environment.get("VITRINE_DEFAULT_PORTALS"),
        "owner_page_url": owner_page,
        "debounce_seconds": settings.debounce_seconds,
        "max_delay_seconds": settings.max_delay_seconds,
    }


def _configure_logging(log_format: str) -> None:
    """``text`` (the default): one short line per event, the stack's and the handlers' alike."""
    text = log_format == "text"
    logging.basicConfig(
        level=os.environ.get("VITRINE_LOCAL_LOG_LEVEL", "INFO"),
        format=LOCAL_LINE_FORMAT if text else "%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt=LOCAL_TIME_FORMAT if text else None,
    )
    for noisy in ("botocore", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ensure_layer_on_path()
    from vitrine.observability import logger

    use_log_format(log_format, logger)


def _stop_on_signals() -> threading.Event:
    """An event set by the first SIGINT/SIGTERM; a second one interrupts the clean shutdown."""
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for a clean shutdown
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stopping


def main(argv: Sequence[str] | None = None) -> int:
    """``make local``: start, print the banner, run until SIGINT/SIGTERM, stop cleanly."""
    stopping = _stop_on_signals()
    argparse.ArgumentParser(
        prog="python -m devtools.local_stack",
        description=devtools.local_stack.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    try:
        settings = LocalSettings.from_env()
        _configure_logging(settings.log_format)
        stack = LocalStack(settings)
        info = stack.start()
    except (LocalStackError, OSError) as exc:
        print(f"make local: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        owner_page = owner_page_url(info, settings)
        description = stack_description(info, settings, owner_page)
        write_private(STACK_FILE, json.dumps(description, indent=2) + "\n")
        print(banner(info, settings, owner_page), flush=True)
        while not stopping.wait(0.5):
            pass
        print("stopping…", flush=True)
    finally:
        stack.stop()
        STACK_FILE.unlink(missing_ok=True)
    print("stopped.", flush=True)
    return 0
