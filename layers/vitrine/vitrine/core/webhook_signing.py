"""Standard Webhooks signatures for the CRM → vitrine webhook (``POST /webhooks/listings``).

The CRM signs ``"{webhook-id}.{webhook-timestamp}.{raw body}"`` with HMAC-SHA256 and sends
``webhook-signature: v1,<base64>`` (several space-separated entries while it rotates keys).
vitrine accepts a request when any ``v1`` entry matches any configured secret, so a secret can be
rotated without downtime: configure old and new, switch the CRM, then drop the old one.

Pure: no I/O, the clock is passed in (``now``), except :func:`signed_headers`, a helper for tests,
demos and the CLI that may pick a random id and the current time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Mapping, Sequence

from vitrine.core.errors import VitrineError

MAX_BODY_BYTES = 1_048_576
"""Bodies over 1 MiB are refused (413) before anything else is looked at."""

TOLERANCE_SECONDS = 300
"""A timestamp more than this far from ``now`` (past or future) is refused: it bounds replays."""

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SIGNATURE_VERSION = "v1"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

# Unix seconds, digits only: int() would also take "+1", " 1 " or "1_000".
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(VitrineError):
    """The request cannot be trusted (401), or the configured secrets are unusable (``bad_secret``).

    ``reason`` is one of ``missing_headers``, ``bad_timestamp``, ``expired``, ``no_valid_signature``
    (all the sender's fault: answer 401) or ``bad_secret`` (vitrine's configuration is wrong: answer
    500 and alert, since no sender can fix it).
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason


def parse_secret(secret: str) -> bytes:
    """``"whsec_<base64 key>"`` → the key bytes; ``ValueError`` if the text is not that shape."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the part after 'whsec_' is not valid base64") from exc
    if not key:
        raise ValueError("a webhook secret must hold a non-empty key")
    return key


def _signature(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` entry (``"v1,<base64>"``) the CRM sends for this body."""
    return f"{SIGNATURE_VERSION},{_signature(parse_secret(secret), webhook_id, str(timestamp), body)}"


def verify(headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: float) -> None:
    """Return if some ``v1`` signature matches some secret and the timestamp is fresh; else raise.

    Header names are matched case-insensitively (API Gateway may lower-case them or not).
    ``body`` must be the raw bytes as received: re-serialised JSON would not match.
    Raises :class:`SignatureError`.
    """
    keys = _parse_secrets(secrets)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get(HEADER_ID) or ""
    timestamp = (lowered.get(HEADER_TIMESTAMP) or "").strip()
    signatures = lowered.get(HEADER_SIGNATURE) or ""
    missing = [
        name
        for name, value in (
            (HEADER_ID, webhook_id),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_SIGNATURE, signatures),
        )
        if not value.strip()
    ]
    if missing:
        raise SignatureError("missing_headers", "missing header(s): " + ", ".join(missing))
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("bad_timestamp", f"{HEADER_TIMESTAMP} must be unix seconds")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError("expired", f"{HEADER_TIMESTAMP} is more than {TOLERANCE_SECONDS} s from now")

    offered = [
        entry.partition(",")[2].encode()
        for entry in signatures.split()
        if entry.partition(",")[0] == SIGNATURE_VERSION
    ]
    matched = False
    for key in keys:
        expected = _signature(key, webhook_id, timestamp, body).encode()
        for candidate in offered:
            # No early exit: the time taken does not depend on which pair matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("no_valid_signature", "no v1 signature matches a configured secret")


def _parse_secrets(secrets: Sequence[str]) -> list[bytes]:
    """Every configured secret must parse: a silently skipped typo would break rotation later."""
    if isinstance(secrets, str) or not secrets:
        raise SignatureError("bad_secret", "no webhook secret is configured")
    keys: list[bytes] = []
    for index, secret in enumerate(secrets):
        try:
            keys.append(parse_secret(secret))
        except ValueError as exc:
            raise SignatureError(
                "bad_secret", f"configured webhook secret #{index} is malformed: {exc}"
            ) from exc
    return keys


def signed_headers(
    secret: str, body: bytes, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Headers a CRM would send with ``body``: for tests, the demo and the CLI.

    Defaults: a fresh ``msg_<uuid>`` id and the current time (the one place this module reads the clock).
    """
    webhook_id = webhook_id if webhook_id is not None else f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp if timestamp is not None else int(time.time())
    return {
        HEADER_ID: webhook_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, webhook_id, timestamp, body),
    }
