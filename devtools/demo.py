"""``make demo``: post the sample CRM webhooks to a running ``make local`` and show what reached AVIV.

The samples (``events/webhooks/*.json``) are one listing's story; they are sent in ``sequence``
order, each signed (Standard Webhooks) with the local secret, and every answer is printed. Sent
within the consolidation window, they reach AVIV as *one* call; the demo then waits for it and shows
the classified the AVIV emulator holds, with its latest status.

Each run tells the story of a new listing (the samples' ``listingId`` plus ``-demo-<time>``), since
replaying the same sequence numbers would rightly change nothing; ``--listing-id ID`` picks the id.
By default ``listing-deleted`` is left out, so the listing stays on AVIV to look at; name samples to
send exactly those, in that order, e.g. ``python -m devtools.demo --listing-id <id> listing-deleted``
(the demo prints that command for the listing it created).

Where things are: the webhook URL is ``--url`` (then nothing else is taken from the local stack),
else ``http://127.0.0.1:$VITRINE_LOCAL_PORT/webhooks/listings`` when that is set, else what
``make local`` wrote to ``.local/stack.json``, else port 3000. The secret is ``--secret``, else
``$VITRINE_WEBHOOK_SECRET``, else ``.local/webhook-secret``. Sample media URLs point at the CRM's
real photo host; when ``make local`` runs a media server they are rewritten to it (path and query
kept), so the emulator's downloads stay on loopback (``--keep-media-urls`` not to).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from devtools.lambda_runtime import ensure_layer_on_path
from devtools.local_stack.settings import DEFAULT_LOCAL_PORT, SECRET_FILE, STACK_FILE, WEBHOOK_PATH
from vitrine_cli.samples import (  # noqa: F401 - with_listing_id, rewrite_media_urls: the demo's API too
    SAMPLES_DIR,
    Sample,
    load_samples,
    rewrite_media_urls,
    sample_body,
    with_listing_id,
)

LEFT_OUT_BY_DEFAULT = ("listing-deleted",)


class DemoError(RuntimeError):
    """The demo cannot run (no stack, no secret, unknown sample): said plainly, exit 1."""


def demo_owner_id(directory: Path = SAMPLES_DIR) -> str:
    """The owner of the samples' listing (they all name the same one): ``make local``'s demo owner."""
    owners = {sample.event.get("ownerId") for sample in load_samples(directory)}
    if len(owners) != 1:
        raise DemoError(f"the samples in {directory} name {len(owners)} owners; expected one")
    (owner,) = owners
    if not isinstance(owner, str) or not owner:
        raise DemoError(f"the samples in {directory} name no ownerId")
    return owner


def select_samples(samples: Sequence[Sample], names: Sequence[str]) -> list[Sample]:
    """``names`` in the given order (a ``.json`` suffix is optional), or the default set."""
    if not names:
        return [s for s in samples if s.name not in LEFT_OUT_BY_DEFAULT]
    by_name = {s.name: s for s in samples}
    chosen = []
    for name in names:
        key = Path(name).stem
        if key not in by_name:
            raise DemoError(f"no sample {name!r}; known: {', '.join(by_name)}")
        chosen.append(by_name[key])
    return chosen


def read_stack_file(path: Path = STACK_FILE) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded


def resolve_webhook_url(explicit: str | None, stack: dict[str, Any]) -> str:
    if explicit:
        return explicit
    port = os.environ.get("VITRINE_LOCAL_PORT", "").strip()
    if port:
        return f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    return str(stack.get("webhook_url") or f"http://127.0.0.1:{DEFAULT_LOCAL_PORT}{WEBHOOK_PATH}")


def resolve_secret(explicit: str | None, secret_file: Path = SECRET_FILE) -> str:
    secret = explicit or os.environ.get("VITRINE_WEBHOOK_SECRET", "").strip()
    if secret:
        return secret
    try:
        saved = secret_file.read_text(encoding="utf-8").strip()
    except OSError:
        saved = ""
    if not saved:
        raise DemoError(
            f"no webhook secret: set VITRINE_WEBHOOK_SECRET, or start `make local` (it writes {secret_file})"
        )
    return saved


def post_webhook(session: requests.Session, url: str, secret: str, body: bytes) -> requests.Response:
    """POST ``body`` signed like the CRM does (fresh id and timestamp)."""
    ensure_layer_on_path()
    from vitrine.core.webhook_signing import signed_headers

    headers = {"Content-Type": "application/json", **signed_headers(secret, body)}
    return session.post(url, data=body, headers=headers, timeout=30)


def _check_health(session: requests.Session, webhook_url: str) -> None:
    parts = urlsplit(webhook_url)
    health = urlunsplit((parts.scheme, parts.netloc, "/health", "", ""))
    try:
        answer = session.get(health, timeout=5)
    except requests.ConnectionError as exc:
        raise DemoError(f"nothing answers at {health}: is `make local` running?") from exc
    if answer.status_code != 200:
        raise DemoError(f"{health} answered {answer.status_code}: `make local` is not ready yet")


def _nothing_changed(answer: requests.Response) -> bool:
    """A 202 that says the event was stale or already applied (see docs/webhooks.md, Answers)."""
    try:
        body = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(
        body.get("ignored") or body.get("unchanged") or body.get("duplicate")
    )


def _summarise(answer: requests.Response) -> str:
    try:
        return json.dumps(answer.json(), ensure_ascii=False)
    except ValueError:
        return answer.text[:500]


def aviv_classified(
    session: requests.Session, inspect_url: str, offerer_estate_id: str
) -> dict[str, Any] | None:
    """The emulator's latest classified for ``offerer_estate_id``, with its ``statuses`` (oldest first)."""
    state = session.get(f"{inspect_url}/state", timeout=5).json()
    found = None
    for classified in state.get("classifieds", []):
        if classified.get("offererEstateId") == offerer_estate_id:
            found = {**classified, "statuses": state.get("statuses", {}).get(classified["classifiedId"], [])}
    return found


def wait_for_aviv(
    session: requests.Session, inspect_url: str, offerer_estate_id: str, statuses_before: int, timeout: float
) -> dict[str, Any] | None:
    """The classified once AVIV has a new, final status for it; ``None`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        classified = aviv_classified(session, inspect_url, offerer_estate_id)
        if classified is not None:
            statuses = classified["statuses"]
            latest = statuses[-1]["status"] if statuses else None
            if len(statuses) > statuses_before and latest not in (None, "RECEIVING", "RECEIVED"):
                return classified
        time.sleep(0.5)
    return None


def _statuses_now(session: requests.Session, inspect_url: str | None, offerer_estate_id: str) -> int:
    if not inspect_url:
        return 0
    classified = aviv_classified(session, inspect_url, offerer_estate_id)
    return len(classified["statuses"]) if classified else 0


def _describe_classified(classified: dict[str, Any]) -> str:
    latest = classified["statuses"][-1]
    state = "deleted" if classified["deleted"] else "live"
    lines = [
        f"AVIV holds classified {classified['classifiedId']} (revision {classified['revision']}, {state}): "
        f"{latest['status']} — {latest.get('message', '')}",
    ]
    media_status = {m["url"]: m["status"] for m in latest.get("mediaStatuses") or []}
    for position, media in enumerate((classified.get("body") or {}).get("media") or [], start=1):
        url = media.get("url", "")
        lines.append(f"  {position}. {media.get('mediaType', '?'):12} {media_status.get(url, '-'):20} {url}")
    if "DOWNLOADING_FAILED" in media_status.values():
        lines.append(
            "(the local media host only serves .jpg/.png/.mp4 files, so a page such as a virtual tour "
            "fails to download: that is AVIV's media-error path, which reconcile reports to the owner)"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "samples", nargs="*", help="sample names to send, in order (default: all but the delete)"
    )
    parser.add_argument("--url", help="webhook URL (default: the running make local)")
    parser.add_argument("--secret", help="signing secret whsec_… (default: VITRINE_WEBHOOK_SECRET, .local/…)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between two webhooks (default 0)")
    parser.add_argument("--keep-media-urls", action="store_true", help="do not point media at the local host")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the sync to reach AVIV")
    parser.add_argument("--listing-id", help="listing id to use (default: the samples' id plus -demo-<time>)")
    return parser


def _post_samples(
    session: requests.Session, url: str, secret: str, bodies: Sequence[tuple[Sample, bytes]], pause: float
) -> bool:
    """Post each body, printing the answer; whether any of them changed the listing."""
    changed = False
    for index, (sample, body) in enumerate(bodies):
        answer = post_webhook(session, url, secret, body)
        print(f"  {sample.name:18} #{sample.sequence:<4} → {answer.status_code} {_summarise(answer)}")
        if answer.status_code >= 300:
            print(f"    (refused: see the make local terminal for {sample.path.name})")
        elif not _nothing_changed(answer):
            changed = True
        if pause and index < len(bodies) - 1:
            time.sleep(pause)
    return changed


def _show_sync(
    session: requests.Session, stack: dict[str, Any], inspect_url: str, listing_id: str, statuses_before: int
) -> None:
    """Wait for the consolidated sync to reach AVIV, then show what AVIV holds."""
    window = int(stack.get("debounce_seconds") or 5)
    print(f"\nwaiting for the sync (edits are consolidated once quiet for {window} s)…")
    classified = wait_for_aviv(session, inspect_url, listing_id, statuses_before, timeout=window + 30)
    if classified is None:
        print("nothing final on AVIV yet: watch the make local terminal")
    else:
        print(_describe_classified(classified))
    inbox = stack.get("inbox")
    if inbox:
        print(f"\nnotifications to owners land in {inbox} (reconcile runs periodically)")


def _run(args: argparse.Namespace) -> None:
    # An explicit URL may be any deployment: then nothing of the local stack applies.
    stack = {} if args.url else read_stack_file()
    url = resolve_webhook_url(args.url, stack)
    secret = resolve_secret(args.secret)
    chosen = select_samples(load_samples(), args.samples)
    with requests.Session() as session:
        session.trust_env = False  # loopback: never through a proxy from the environment
        _check_health(session, url)
        media_base = None if args.keep_media_urls else stack.get("media_url")
        inspect_url = stack.get("aviv_inspect_url")
        sample_id = str(chosen[-1].event.get("listingId"))
        listing_id = args.listing_id or sample_id + time.strftime("-demo-%H%M%S")
        statuses_before = _statuses_now(session, inspect_url, listing_id)
        print(f"posting {len(chosen)} webhook(s) for listing {listing_id} to {url}")
        if media_base:
            print(f"(media URLs pointed at the local media host {media_base})")
        bodies = [(sample, sample_body(sample, listing_id, media_base)) for sample in chosen]
        changed = _post_samples(session, url, secret, bodies, args.pause)
        if not any(sample.name == "listing-deleted" for sample in chosen):
            print(f"(to delete it: python -m devtools.demo --listing-id {listing_id} listing-deleted)")
        if args.no_wait or not inspect_url:
            return
        if not changed:
            print("\nnothing changed, so nothing will be sent to AVIV.")
            return
        _show_sync(session, stack, str(inspect_url), listing_id, statuses_before)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except DemoError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
