"""The AVIV OAuth token as vitrine holds it: what it is valid for, when to refresh it.

Tokens never appear in logs or reprs: only a short fingerprint does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


def fingerprint(secret: str) -> str:
    """8 hex characters of sha256: enough to tell two tokens apart in logs, useless to an attacker."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class TokenKey:
    """What a token is valid for. Holds no secret, so it can be logged and hashed into a table key."""

    client_id: str
    audience: str
    intermediary_id: str | None = None

    @property
    def cache_key(self) -> str:
        """sha256 hex of the three parts (JSON-encoded so ("a b", "c") and ("a", "b c") differ)."""
        parts = json.dumps([self.client_id, self.audience, self.intermediary_id], separators=(",", ":"))
        return hashlib.sha256(parts.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token and when to stop using it.

    ``refresh_at`` comes before ``expires_at`` (the refresh margin) so a call never starts with a
    token about to die; between the two the token is still *valid*, just no longer *fresh*.
    """

    access_token: str = field(repr=False)
    expires_at: float
    refresh_at: float
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a credential

    @classmethod
    def issue(
        cls,
        access_token: str,
        expires_in: float,
        now: float,
        refresh_margin: float,
        token_type: str = "Bearer",  # noqa: S107 - the scheme name, not a credential
    ) -> IssuedToken:
        """Token answered at ``now`` living ``expires_in`` s; short-lived tokens keep half their life."""
        margin = min(float(refresh_margin), float(expires_in) / 2)
        return cls(
            access_token=access_token,
            expires_at=now + float(expires_in),
            refresh_at=now + float(expires_in) - margin,
            token_type=token_type or "Bearer",
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.access_token)

    def is_fresh(self, now: float) -> bool:
        return now < self.refresh_at

    def is_valid(self, now: float) -> bool:
        return now < self.expires_at

    def __repr__(self) -> str:
        return (
            f"IssuedToken(fingerprint={self.fingerprint!r}, expires_at={self.expires_at:.0f}, "
            f"refresh_at={self.refresh_at:.0f})"
        )
