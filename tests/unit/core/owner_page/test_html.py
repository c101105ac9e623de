"""The owner status page's HTML: escaped everywhere, only http(s) URLs as links and images, accessible."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from vitrine.core.errors import FieldError
from vitrine.core.locales import format_time, supported_locale
from vitrine.core.owner_page.html import CONTENT_SECURITY_POLICY, STYLESHEET, render_owner_page, safe_url
from vitrine.core.owner_page.phrases import PHRASES
from vitrine.core.owner_page.view import ListingView, MediaIssue, MediaWarning, OwnerPage

NOW = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
HOSTILE_URL = 'https://crm.example/x.jpg?q="><script>alert(3)</script>'


def issue(url: str, title: str | None = "Séjour", position: int | None = 0) -> MediaIssue:
    return MediaIssue(position, title, url, "DOWNLOADING_FAILED", "the URL answers 404", "check_url")


def page(*listings: ListingView, not_shown: int = 0) -> OwnerPage:
    return OwnerPage(owner_id="owner-1", listings=listings, generated_at=NOW, not_shown=not_shown)


def one_listing(**fields: object) -> ListingView:
    values: dict[str, object] = {
        "listing_id": "ABC-1",
        "standing": "online_media_errors",
        "aviv_status": "UPDATED_WITH_MEDIA_ERROR",
        "portals": ("SeLoger",),
    }
    values.update(fields)
    return ListingView(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "//evil.example/x.jpg",
        "/relative/x.jpg",
        "https://",
        "https://crm.example/a b.jpg",
        "https://crm.example/\nx.jpg",
        "vbscript:msgbox(1)",
    ],
)
def test_only_absolute_http_urls_become_links_or_images(url: str) -> None:
    assert safe_url(url) is None
    html = render_owner_page(page(one_listing(media_issues=(issue(url),))))
    assert "<img" not in html and "<a " not in html
    assert 'class="thumb" aria-hidden="true"' in html


def test_an_http_url_is_both_the_thumbnail_and_the_link_escaped_as_an_attribute() -> None:
    url = 'https://crm.example/p.jpg?a=1&b="2"'
    html = render_owner_page(page(one_listing(media_issues=(issue(url),))))
    escaped = "https://crm.example/p.jpg?a=1&amp;b=&quot;2&quot;"
    assert f'<img class="thumb" src="{escaped}" alt="Séjour"' in html
    assert f'<a href="{escaped}" rel="noreferrer noopener">' in html


def test_hostile_titles_ids_reasons_and_urls_stay_text() -> None:
    hostile_issue = MediaIssue(3, HOSTILE, HOSTILE_URL, "CREATING_FAILED", HOSTILE, "replace_file")
    listing = one_listing(
        listing_id=HOSTILE,
        city=HOSTILE,
        media_issues=(hostile_issue,),
        problem_details=(HOSTILE,),
        warnings=(MediaWarning(0, HOSTILE, "unknown_code", HOSTILE),),
    )
    html = render_owner_page(page(listing))
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'alt="{HOSTILE}"' not in html
    assert 'alt="&quot;&gt;&lt;script&gt;' in html
    assert 'src="https://crm.example/x.jpg?q=&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"' in html


def test_a_photo_without_a_title_is_described_by_its_place() -> None:
    html = render_owner_page(
        page(one_listing(media_issues=(issue("https://crm.example/p.jpg", title=None, position=4),)))
    )
    assert 'alt="photo 5"' in html
    assert "No. 5" in html


def test_the_page_is_a_phone_ready_accessible_document_in_english_by_default() -> None:
    html = render_owner_page(page(one_listing(media_issues=(issue("https://crm.example/p.jpg"),))))
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<meta name="referrer" content="no-referrer">' in html
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in pairwise(levels)), "no heading level skipped"
    assert "<script" not in html
    assert "1 listing, 1 needs your attention." in html


def test_french_is_rendered_when_asked_for() -> None:
    refused = one_listing(standing="rejected", rejection_errors=(FieldError("/data/prices", "requis"),))
    html = render_owner_page(page(refused), "fr-FR")
    assert '<html lang="fr">' in html
    assert "Non envoyée : AVIV a refusé l'annonce" in html
    assert "<code>/data/prices</code>: requis" in html


def test_an_owner_without_listings_and_listings_not_shown_are_said() -> None:
    assert "vitrine has no listing for you yet." in render_owner_page(page())
    assert "3 more listings are not shown" in render_owner_page(page(one_listing(), not_shown=3))


def test_every_phrase_exists_in_every_language_with_the_same_fields() -> None:
    english = PHRASES["en"]
    for language, phrases in PHRASES.items():
        assert set(phrases) == set(english), language
        for key, text in phrases.items():
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), key


def test_the_stylesheet_is_the_only_style_the_policy_allows_and_no_script_is() -> None:
    digest = base64.b64encode(hashlib.sha256(STYLESHEET.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'none'")
    assert "script-src" not in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert f"<style>{STYLESHEET}</style>" in render_owner_page(page())


def test_locales_and_times() -> None:
    assert [supported_locale(x) for x in ("fr", "FR_fr", "de", None, "")] == ["fr", "fr", "en", "en", "en"]
    assert format_time(NOW, "en") == "2 Mar 2026, 09:05 UTC"
    assert format_time(NOW, "fr") == "2 mars 2026, 09:05 UTC"
