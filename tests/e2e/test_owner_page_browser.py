"""The owner status page in a real browser: headless Chromium loads it from a running local stack.

A listing with a photo its host refuses (404) goes through ingest, sync, the AVIV emulator (which
really downloads each photo) and a reconcile run; the owner's notification carries the page link,
and Chromium's DOM of that page shows the failing photo with its thumbnail, reason and advice. The
screenshots are kept in ``.local/artifacts/`` (their paths are printed).
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import requests

from tests.e2e.browser import dump_dom, screenshot
from tests.e2e.support import Stack, envelope, listing_data, media

OWNER = "agence-presquile"
HOSTILE_TITLE = '<script>alert("owned")</script> Façade'


class Dom(HTMLParser):
    """What the test reads of a DOM: elements with their attributes, and the text of headings."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.headings: dict[str, list[str]] = {"h1": [], "h2": [], "h3": []}
        self.text: list[str] = []
        self._open_heading: str | None = None
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.headings:
            self._open_heading = tag
            self.headings[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open_heading:
            self._open_heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open_heading is not None:
            self.headings[self._open_heading][-1] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


def post_listings(stack: Stack) -> None:
    """ABC-1: photo 2 is refused by its host; ABC-2: everything fine but a floor plan first."""
    failing = media(stack, "ABC-1", 2, title=HOSTILE_TITLE)
    stack.local.media.set_status("ABC-1/photo-2.jpg", 404)
    first = envelope(
        "listing.upserted",
        "ABC-1",
        listing={
            "portals": ["SL", "BD"],
            "data": listing_data("ABC-1"),
            "media": [media(stack, "ABC-1", 0), media(stack, "ABC-1", 1), failing, media(stack, "ABC-1", 3)],
        },
    )
    plan_first = [media(stack, "ABC-2", 0, category="FLOOR_PLAN", title="Plan"), media(stack, "ABC-2", 1)]
    second = envelope(
        "listing.upserted",
        "ABC-2",
        listing={"portals": ["SL"], "data": listing_data("ABC-2"), "media": plan_first},
    )
    for event in (first, second):
        assert stack.post(event).status_code == 202
    for listing_id in ("ABC-1", "ABC-2"):
        stack.wait_synced(listing_id)


def notified_page_url(stack: Stack) -> str:
    """Run reconcile: the owner is told of the failing photo; the page link the message carries."""
    assert stack.emulator is not None and stack.local.inbox is not None
    stack.emulator.wait_idle()
    stack.local.fire_schedules()
    notification = stack.local.inbox.wait_for(
        lambda n: isinstance(n.message, dict) and n.message.get("kind") == "media_error", timeout=30
    )
    body: dict[str, Any] = notification.message
    assert body["ownerId"] == OWNER
    url = str(body["ownerPageUrl"])
    assert url.startswith(stack.info.api_url + f"/owners/{OWNER}/listings?expires=")
    return url


def test_the_owner_opens_the_link_of_a_notification_and_sees_the_failing_photo_in_chromium(
    stack: Stack,
) -> None:
    post_listings(stack)
    url = notified_page_url(stack)

    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")

    dom = Dom(dump_dom(url))
    assert dom.all("html")[0]["lang"] == "en"
    assert not dom.all("script"), "a hostile title must stay text"
    assert dom.headings["h1"] == ["Your listings on the AVIV portals"]
    assert [h.split(" ")[1] for h in dom.headings["h2"]] == ["ABC-1", "ABC-2"], "attention first"
    assert "Media not shown on the portals" in dom.headings["h3"]
    assert "Advice on the photos" in dom.headings["h3"]
    thumbnails = dom.all("img")
    assert [img["alt"] for img in thumbnails] == [HOSTILE_TITLE]
    assert thumbnails[0]["src"] == media(stack, "ABC-1", 2)["url"]
    text = " ".join(dom.text)
    assert HOSTILE_TITLE in text
    assert "SeLoger, Belles Demeures" in text
    assert "Check that this address opens the photo" in text
    assert "The first photo is the listing's main photo" in text
    assert any(meta.get("name") == "viewport" for meta in dom.all("meta"))

    screenshot(url, "owner-page-phone.png", 412, 1500)
    screenshot(url + "&lang=fr", "owner-page-desktop-fr.png", 1280, 1200)


def test_a_tampered_link_gets_the_same_403_as_another_owners_link_in_chromium(stack: Stack) -> None:
    good = stack.info.owner_page_url(OWNER)
    tampered = good.replace("signature=", "signature=A")
    other_owner = good.replace(f"/owners/{OWNER}/", "/owners/agence-rivale/")
    answers = [
        requests.get(link, headers={"Accept": "text/html"}, timeout=30) for link in (tampered, other_owner)
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].text == answers[1].text
    dom = Dom(dump_dom(tampered))
    assert dom.headings["h1"] == ["This link is not valid or has expired"]
