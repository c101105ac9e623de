"""Standard Webhooks signature checks: rotation, tampering, freshness, malformed input."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from vitrine.core.webhook_signing import (
    MAX_BODY_BYTES,
    TOLERANCE_SECONDS,
    SignatureError,
    parse_secret,
    sign,
    signed_headers,
    verify,
)

KEY = b"vitrine-test-key-0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"the-rotated-key-fedcba9876543210").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-else-entirely").decode()
# Raw UTF-8 bytes with accents: the signature covers the bytes as sent, not re-serialised JSON.
BODY = '{"type":"media.removed","listingId":"AGC-1","ownerId":"agence-été","mediaId":"m-1"}'.encode()
NOW = 1_770_974_757  # 2026-02-13T09:25:57Z
MSG_ID = "msg_2Lh7b9c1"


def headers_for(secret: str = SECRET, body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return signed_headers(secret, body, webhook_id=MSG_ID, timestamp=timestamp)


def refused(
    headers: dict[str, str], body: bytes = BODY, secrets: list[str] | None = None, now: float = NOW
) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(headers, body, [SECRET] if secrets is None else secrets, now)
    return caught.value.reason


def test_constants_are_the_contract() -> None:
    assert MAX_BODY_BYTES == 1_048_576
    assert TOLERANCE_SECONDS == 300


def test_sign_is_hmac_sha256_of_id_timestamp_body() -> None:
    expected = base64.b64encode(hmac.new(KEY, f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest())
    assert sign(SECRET, MSG_ID, NOW, BODY) == "v1," + expected.decode()


def test_standard_webhooks_reference_vector() -> None:
    """The example of the Standard Webhooks spec / reference libraries, so CRMs' libraries agree with us."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_valid_signature_is_accepted() -> None:
    verify(headers_for(), BODY, [SECRET], NOW)


def test_header_names_are_case_insensitive() -> None:
    mixed = {name.title(): value for name, value in headers_for().items()}
    assert "Webhook-Signature" in mixed
    verify(mixed, BODY, [SECRET], NOW)


def test_rotation_second_secret_valid() -> None:
    verify(headers_for(NEW_SECRET), BODY, [SECRET, NEW_SECRET], NOW)
    verify(headers_for(SECRET), BODY, [SECRET, NEW_SECRET], NOW)


def test_wrong_secret_is_refused() -> None:
    assert refused(headers_for(OTHER_SECRET), secrets=[SECRET, NEW_SECRET]) == "no_valid_signature"


def test_tampered_body_is_refused() -> None:
    assert refused(headers_for(), body=BODY.replace(b"AGC-1", b"AGC-2")) == "no_valid_signature"


def test_tampered_id_or_timestamp_is_refused() -> None:
    assert refused({**headers_for(), "webhook-id": "msg_other"}) == "no_valid_signature"
    assert refused({**headers_for(), "webhook-timestamp": str(NOW - 1)}) == "no_valid_signature"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_refused(missing: str) -> None:
    headers = headers_for()
    del headers[missing]
    assert refused(headers) == "missing_headers"
    assert refused({**headers_for(), missing: " "}) == "missing_headers"


def test_no_headers_at_all() -> None:
    assert refused({}) == "missing_headers"


@pytest.mark.parametrize("timestamp", ["soon", "1770974757.5", "-1770974757", "+1770974757", "1_770_974_757"])
def test_unparsable_timestamp_is_refused(timestamp: str) -> None:
    assert refused({**headers_for(), "webhook-timestamp": timestamp}) == "bad_timestamp"


def test_milliseconds_timestamp_is_refused() -> None:
    assert refused(headers_for(timestamp=NOW * 1000), now=NOW) == "bad_timestamp"


def test_timestamp_301_seconds_old_is_refused() -> None:
    assert refused(headers_for(timestamp=NOW - 301)) == "expired"


def test_timestamp_301_seconds_in_the_future_is_refused() -> None:
    assert refused(headers_for(timestamp=NOW + 301)) == "expired"


def test_timestamp_within_tolerance_is_accepted() -> None:
    verify(headers_for(timestamp=NOW - 300), BODY, [SECRET], NOW)
    verify(headers_for(timestamp=NOW + 300), BODY, [SECRET], NOW)
    verify(headers_for(timestamp=NOW), BODY, [SECRET], NOW + 299.9)


def test_multiple_signatures_one_valid() -> None:
    good = sign(SECRET, MSG_ID, NOW, BODY)
    bad = sign(OTHER_SECRET, MSG_ID, NOW, BODY)
    headers = {**headers_for(), "webhook-signature": f"{bad} v1,bm90LWEtc2lnbmF0dXJl {good}"}
    verify(headers, BODY, [SECRET], NOW)


def test_other_versions_are_ignored() -> None:
    digest = sign(SECRET, MSG_ID, NOW, BODY).partition(",")[2]
    # The right digest under another version prefix must not count.
    assert (
        refused({**headers_for(), "webhook-signature": f"v1a,{digest} v2,{digest}"}) == "no_valid_signature"
    )
    verify({**headers_for(), "webhook-signature": f"v1a,garbage v1,{digest}"}, BODY, [SECRET], NOW)


def test_garbage_signature_entries_are_refused_not_crashing() -> None:
    for value in ("v1", "v1,", "nonsense", "v1,é-not-ascii", ",,,"):
        assert refused({**headers_for(), "webhook-signature": value}) == "no_valid_signature"


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # prefix missing
        "whsec_",  # empty key
        "whsec_not base64!",
        "whsec_YWJ",  # missing padding
        "WHSEC_" + base64.b64encode(KEY).decode(),
    ],
)
def test_malformed_secret(secret: str) -> None:
    with pytest.raises(ValueError):
        parse_secret(secret)
    with pytest.raises(ValueError):
        sign(secret, MSG_ID, NOW, BODY)
    assert refused(headers_for(), secrets=[SECRET, secret]) == "bad_secret"


def test_no_configured_secret_is_a_configuration_error() -> None:
    assert refused(headers_for(), secrets=[]) == "bad_secret"


def test_parse_secret_decodes_the_key() -> None:
    assert parse_secret(SECRET) == KEY


def test_signed_headers_defaults_make_a_verifiable_request() -> None:
    headers = signed_headers(SECRET, BODY)
    assert headers["webhook-id"].startswith("msg_")
    assert headers["webhook-signature"].startswith("v1,")
    verify(headers, BODY, [SECRET], now=int(headers["webhook-timestamp"]))
    assert signed_headers(SECRET, BODY)["webhook-id"] != headers["webhook-id"]
