"""The owner's language, end to end: a webhook's ``locale`` is kept with the listing and the owner's
notification is written in it — through ingest, sync, the AVIV emulator (which really downloads each
photo), a reconcile run, SNS and the local inbox (its JSON lines and its readable mailbox)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import start_stack
from tests.e2e.support import Stack, envelope, listing_data, media
from vitrine.core.notification_text.email import render_message


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    local = start_stack(monkeypatch, inbox_path=tmp_path / "notifications.jsonl")
    try:
        yield Stack(local)
    finally:
        local.stop()


def post_listing_with_a_missing_photo(stack: Stack, listing_id: str, owner: str, **fields: Any) -> None:
    missing = media(stack, listing_id, 1, title="Séjour lumineux")
    stack.local.media.set_status(f"{listing_id}/photo-1.jpg", 404)
    event = envelope(
        "listing.upserted",
        listing_id,
        ownerId=owner,
        listing={
            "portals": ["SL"],
            "data": listing_data(listing_id),
            "media": [media(stack, listing_id, 0), missing, media(stack, listing_id, 2)],
        },
        **fields,
    )
    assert stack.post(event).status_code == 202
    stack.wait_synced(listing_id)


def media_error_of(stack: Stack, listing_id: str) -> Any:
    assert stack.emulator is not None and stack.local.inbox is not None
    stack.emulator.wait_idle()
    stack.local.fire_schedules()
    return stack.local.inbox.wait_for(
        lambda n: (
            isinstance(n.message, dict)
            and n.message.get("kind") == "media_error"
            and n.message.get("listingId") == listing_id
        ),
        timeout=30,
    )


def test_a_french_owner_reads_a_french_email_and_an_owner_who_said_nothing_reads_english(
    stack: Stack,
) -> None:
    post_listing_with_a_missing_photo(stack, "LYON-1", "agence-lyon", locale="fr")
    stored = stack.store.load_desired("LYON-1")
    assert stored is not None and stored.locale == "fr"
    french = media_error_of(stack, "LYON-1")
    assert french.message["locale"] == "fr"
    assert french.subject == "Annonce LYON-1 : telechargement impossible pour 1 photo sur SeLoger"
    assert french.email is not None and french.email.subject == french.subject
    text = french.email.text
    assert text.startswith("Bonjour,\n\nAnnonce LYON-1 : téléchargement impossible pour 1 photo sur SeLoger.")
    assert "Photo 2, « Séjour lumineux » : le portail n'a pas pu télécharger" in text
    assert stack.media_url("LYON-1/photo-1.jpg") in text
    assert french.message["ownerPageUrl"] in text

    post_listing_with_a_missing_photo(stack, "PARIS-1", "agence-paris")
    english = media_error_of(stack, "PARIS-1")
    assert english.message["locale"] == "en"
    assert english.subject == "1 photo of listing PARIS-1 could not be downloaded by SeLoger"
    assert (
        english.email is not None and 'Photo 2, "Séjour lumineux": the portal could not' in english.email.text
    )

    inbox = stack.local.settings.inbox_path
    assert inbox is not None
    mailbox = inbox.with_suffix(".txt").read_text(encoding="utf-8")
    assert f"Subject: {french.subject}\n\n{text}" in mailbox
    assert render_message(english.message).text in mailbox
    assert '"locale":"fr"' in inbox.read_text(encoding="utf-8")  # the JSON lines are still recorded
