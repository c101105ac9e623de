"""Signed links to an owner's status page: ``/owners/{ownerId}/listings?expires=…&signature=…``.

The page has no login: the link itself is the credential, so it is an HMAC-SHA256 over the owner
and the expiry, with a secret only vitrine holds (Secrets Manager; ``.local/`` for ``make local``).
A wrong, tampered or expired link is refused the same way, so a refusal reveals nothing about which
owners exist. Several secrets may be configured while one is rotated: any of them verifies, the
first signs. Pure: the clock is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

OWNER_PAGE_ROUTE = "/owners/{ownerId}/listings"
DEFAULT_LINK_DAYS = 30
MAX_LINK_DAYS = 366


def _mac(secret: bytes, owner_id: str, expires: int) -> str:
    message = f"vitrine-owner-page\n{owner_id}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def link_expiry(now: datetime, days: int = DEFAULT_LINK_DAYS) -> int:
    """Unix seconds ``days`` from ``now`` (1 to MAX_LINK_DAYS): links never live for ever."""
    if not 1 <= days <= MAX_LINK_DAYS:
        raise ValueError(f"a link lives 1 to {MAX_LINK_DAYS} days, not {days}")
    return int((now + timedelta(days=days)).timestamp())


def sign_owner_link(secret: bytes, owner_id: str, expires: int) -> str:
    """The ``signature`` query value of the owner's link."""
    return _mac(secret, owner_id, expires)


def owner_page_path(secret: bytes, owner_id: str, expires: int) -> str:
    """The page's path and query, ready to append to the API's base URL."""
    query = urlencode({"expires": expires, "signature": sign_owner_link(secret, owner_id, expires)})
    return OWNER_PAGE_ROUTE.replace("{ownerId}", quote(owner_id, safe="")) + "?" + query


def owner_link_valid(
    secrets: Sequence[bytes], owner_id: str, expires: str | None, signature: str | None, now: datetime
) -> bool:
    """True only for an unexpired link signed by one of ``secrets`` for exactly this owner."""
    if not secrets or not expires or not signature or not expires.isdigit() or len(expires) > 12:
        return False
    if int(expires) <= now.timestamp():
        return False
    return any(hmac.compare_digest(_mac(secret, owner_id, int(expires)), signature) for secret in secrets)
