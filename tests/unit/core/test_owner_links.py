from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from vitrine.core.owner_links import link_expiry, owner_link_valid, owner_page_path, sign_owner_link

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = b"s" * 32
OTHER = b"o" * 32


def link_parts(path: str) -> tuple[str, str, str]:
    split = urlsplit(path)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["signature"][0]


def test_a_signed_link_opens_the_owners_page_until_it_expires() -> None:
    expires = link_expiry(NOW, days=7)
    path, raw_expires, signature = link_parts(owner_page_path(SECRET, "agent-42", expires))
    assert path == "/owners/agent-42/listings"
    assert owner_link_valid([SECRET], "agent-42", raw_expires, signature, NOW)
    assert owner_link_valid([SECRET], "agent-42", raw_expires, signature, NOW + timedelta(days=6, hours=23))
    assert not owner_link_valid([SECRET], "agent-42", raw_expires, signature, NOW + timedelta(days=7))


def test_a_link_opens_no_other_owners_page() -> None:
    expires = link_expiry(NOW)
    signature = sign_owner_link(SECRET, "agent-42", expires)
    assert not owner_link_valid([SECRET], "agent-43", str(expires), signature, NOW)


def test_a_tampered_expiry_or_signature_is_refused() -> None:
    expires = link_expiry(NOW)
    signature = sign_owner_link(SECRET, "agent-42", expires)
    assert not owner_link_valid([SECRET], "agent-42", str(expires + 86400), signature, NOW)
    assert not owner_link_valid([SECRET], "agent-42", str(expires), signature[:-1] + "A", NOW)
    for garbled in ("", "-1", "1e9", "99999999999999999999", None):
        assert not owner_link_valid([SECRET], "agent-42", garbled, signature, NOW)
    assert not owner_link_valid([SECRET], "agent-42", str(expires), None, NOW)


def test_any_configured_secret_verifies_so_a_secret_can_be_rotated() -> None:
    expires = link_expiry(NOW)
    signature = sign_owner_link(OTHER, "agent-42", expires)
    assert owner_link_valid([SECRET, OTHER], "agent-42", str(expires), signature, NOW)
    assert not owner_link_valid([SECRET], "agent-42", str(expires), signature, NOW)
    assert not owner_link_valid([], "agent-42", str(expires), signature, NOW)


def test_an_owner_id_with_reserved_characters_is_escaped_in_the_path() -> None:
    path, _expires, _signature = link_parts(owner_page_path(SECRET, "agence/marais 7", link_expiry(NOW)))
    assert path == "/owners/agence%2Fmarais%207/listings"


def test_a_link_lives_between_one_day_and_a_year() -> None:
    assert link_expiry(NOW, days=1) == int((NOW + timedelta(days=1)).timestamp())
    for days in (0, -1, 367):
        with pytest.raises(ValueError):
            link_expiry(NOW, days=days)
