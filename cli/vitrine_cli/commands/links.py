"""``vitrine owner-link OWNER`` (the owner page's signed URL) and ``vitrine sign FILE`` (a signed curl)."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from vitrine.core.owner_links import DEFAULT_LINK_DAYS, link_expiry, owner_page_path
from vitrine.core.webhook_signing import signed_headers
from vitrine_cli.errors import UsageError
from vitrine_cli.options import Json, Profile, Region, Stack, open_stack
from vitrine_cli.output import console, emit, errors, guarded


@guarded
def owner_link(
    owner: Annotated[str, typer.Argument(help="The owner's id (the webhooks' ownerId).")],
    days: Annotated[
        int, typer.Option("--days", help="Days the link stays valid (1 to 366).")
    ] = DEFAULT_LINK_DAYS,
    as_json: Json = False,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Print the owner status page's signed URL."""
    now = datetime.now(UTC)
    try:
        expires = link_expiry(now, days)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    conn = open_stack(stack, profile, region)
    url = conn.target.api_url.rstrip("/") + owner_page_path(conn.owner_page_secret(), owner, expires)
    expires_at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    emit({"ownerId": owner, "url": url, "expiresAt": expires_at}, as_json, lambda: console.print(url))


def curl_command(url: str, headers: dict[str, str], file: Path) -> str:
    """A ready-to-run curl posting ``file``'s exact bytes (what was signed) with ``headers``."""
    lines = [f"curl -sS -i -X POST {shlex.quote(url)}", "-H 'content-type: application/json'"]
    lines += ["-H " + shlex.quote(f"{name}: {value}") for name, value in headers.items()]
    lines.append("--data-binary " + shlex.quote(f"@{file}"))
    return " \\\n    ".join(lines)


@guarded
def sign(
    file: Annotated[
        Path, typer.Argument(help="A webhook's JSON file (e.g. events/webhooks/listing-upserted.json).")
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="Where to post it (default: the stack's webhook URL).")
    ] = None,
    stack: Stack = None,
    profile: Profile = None,
    region: Region = None,
) -> None:
    """Print a ready-to-run signed curl for a webhook JSON file (valid 5 minutes)."""
    try:
        body = file.read_bytes()
        json.loads(body)
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{file} is not JSON: {exc}") from None
    conn = open_stack(stack, profile, region)
    headers = signed_headers(conn.webhook_secret(), body)
    print(curl_command(url or conn.target.webhook_url, headers, file.resolve()))
    errors.print("(the signature is valid for 5 minutes; run `vitrine sign` again after that)")
