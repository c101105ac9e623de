"""The AVIV token values: when to refresh, what a repr shows, how a key is hashed."""

from __future__ import annotations

from vitrine.core.tokens import IssuedToken, TokenKey

T0 = 1_770_000_000.0
DAY = 86_400
MARGIN = 300
KEY = TokenKey(client_id="vitrine-client", audience="https://api.aviv-group.com/sandbox/caas/v4",
               intermediary_id="agency-42")  # fmt: skip


# -- tokens and keys ------------------------------------------------------------------------


def test_issue_refreshes_margin_before_expiry_and_keeps_half_of_a_short_life() -> None:
    day = IssuedToken.issue("t", DAY, now=T0, refresh_margin=MARGIN)
    assert (day.expires_at, day.refresh_at) == (T0 + DAY, T0 + DAY - MARGIN)
    short = IssuedToken.issue("t", 60, now=T0, refresh_margin=MARGIN)
    assert (short.expires_at, short.refresh_at) == (T0 + 60, T0 + 30)


def test_repr_shows_a_fingerprint_never_the_token() -> None:
    token = IssuedToken.issue("eyJhbGciOiJSUzI1NiJ9.secret-part", DAY, now=T0, refresh_margin=MARGIN)
    assert "secret-part" not in repr(token)
    assert token.fingerprint in repr(token)


def test_cache_key_is_sha256_of_the_key_parts_and_distinguishes_intermediaries() -> None:
    assert len(KEY.cache_key) == 64 and int(KEY.cache_key, 16) >= 0
    assert KEY.client_id not in KEY.cache_key
    other = TokenKey(KEY.client_id, KEY.audience, None)
    assert other.cache_key != KEY.cache_key
    assert TokenKey("a b", "c").cache_key != TokenKey("a", "b c").cache_key
