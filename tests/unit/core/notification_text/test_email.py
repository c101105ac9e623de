"""What an owner reads: every kind, in English and French, says what, which media, what to do, and where."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from devtools.notification_examples import PAGE, example_notifications
from vitrine.core.notification_text.email import MAX_LISTED, render_message
from vitrine.core.reconcile.wording import SUBJECT_MAX_LENGTH, Headline, ascii_subject

KINDS = ("media_error", "media_error (unlocated)", "classified_error", "sync_rejected", "stuck",
         "quality_warning", "resolved")  # fmt: skip
CASES = [(name, locale) for name in KINDS for locale in ("en", "fr")]


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**example_notifications()[name].body, **changes}


def test_there_is_an_example_of_every_notification_kind() -> None:
    kinds = {notification.kind for notification in example_notifications().values()}
    assert kinds == {
        "media_error",
        "classified_error",
        "sync_rejected",
        "stuck",
        "quality_warning",
        "resolved",
    }


@pytest.mark.parametrize(("name", "locale"), CASES)
def test_every_kind_has_an_ascii_subject_under_100_characters_and_a_text_with_the_page_link(
    name: str, locale: str
) -> None:
    message = render_message(body(name, locale=locale))
    assert message.locale == locale
    assert message.subject.isascii() and 0 < len(message.subject) <= SUBJECT_MAX_LENGTH
    assert message.subject == ascii_subject(message.subject)
    assert PAGE in message.text
    assert "{" not in message.text and "}" not in message.text  # no JSON, no unfilled field
    assert message.text.startswith({"en": "Hello,\n\n", "fr": "Bonjour,\n\n"}[locale])
    assert ("What to do:" in message.text or "Nothing to do." in message.text) == (locale == "en")
    assert ("Que faire :" in message.text or "Rien à faire." in message.text) == (locale == "fr")


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_a_media_error_names_each_photo_by_position_title_and_url_one_paragraph_each(locale: str) -> None:
    text = render_message(body("media_error", locale=locale)).text
    paragraphs = text.split("\n\n")
    [sejour] = [p for p in paragraphs if "Séjour lumineux" in p]
    [cuisine] = [p for p in paragraphs if "Cuisine équipée" in p]
    assert sejour.startswith("Photo 2, ") and sejour.endswith(
        "\nhttps://photos.agence-durand.fr/ABC-12/sejour.jpg"
    )
    assert cuisine.startswith("Photo 5, ") and cuisine.endswith("/ABC-12/cuisine.jpg")
    assert ("could not download" in sejour) == (locale == "en")
    assert ("n'a pas pu télécharger" in sejour) == (locale == "fr")
    assert ("format or size" in cuisine) or ("format ou taille" in cuisine)


def test_french_subjects_keep_their_words_with_accents_folded() -> None:
    subjects = {name: render_message(body(name, locale="fr")).subject for name in KINDS}
    assert subjects == {
        "media_error": "Annonce ABC-12 : echec pour 2 photos sur SeLoger",
        "media_error (unlocated)": "Annonce ABC-12 : probleme de media sur SeLoger, non localise par AVIV",
        "classified_error": "Annonce ABC-12 : mise a jour impossible sur SeLoger",
        "sync_rejected": "Annonce ABC-12 refusee par AVIV : 1 erreur a corriger",
        "stuck": "Annonce ABC-12 : pas de confirmation de SeLoger apres 2 h",
        "quality_warning": "Annonce ABC-12 : 2 medias ne s'afficheront pas comme prevu sur SeLoger",
        "resolved": "Resolu : les medias de l'annonce ABC-12 sont en ligne sur SeLoger",
    }


def test_the_english_subject_is_the_one_the_json_document_carries() -> None:
    for name in KINDS:
        notification = example_notifications()[name]
        assert (
            render_message(notification.body).subject == notification.body["subject"] == notification.subject
        )


def test_what_vitrine_found_at_the_url_is_said_in_the_owners_language() -> None:
    media = [dict(m) for m in body("media_error")["media"]]
    media[0]["reason"] = "the URL answers 404"
    media[1]["reason"] = "the URL resolves to a private address (10.0.0.7)"
    english = render_message(body("media_error", media=media)).text
    french = render_message(body("media_error", media=media, locale="fr")).text
    assert "the portal could not download the file from its URL (the URL answers 404)." in english
    assert "(vérification de vitrine : l'adresse répond 404)." in french
    assert "(vérification de vitrine : the URL resolves to a private address (10.0.0.7))." in french


def test_automatic_retry_and_silently_retried_media_are_explained() -> None:
    retried = body("media_error", autoRetryAttempts=3, retrying=["m-1182", "m-1183"])
    text = render_message(retried).text
    assert "up to 3 times" in text and "2 other media downloaded again by itself" in text
    french = render_message({**retried, "locale": "fr"}).text
    assert "jusqu'à 3 fois" in french and "pour 2 autres médias" in french


def test_a_long_list_shows_the_first_ones_and_counts_the_rest() -> None:
    entry: Mapping[str, Any] = body("media_error")["media"][0]
    media = [{**entry, "id": f"m{i}", "position": i} for i in range(MAX_LISTED + 5)]
    text = render_message(body("media_error", media=media)).text
    assert len(re.findall(r"^Photo \d+, ", text, re.M)) == MAX_LISTED
    assert "... and 5 more: your status page lists them all." in text
    errors = [{"pointer": f"/data/f{i}", "reason": "is wrong"} for i in range(MAX_LISTED + 1)]
    assert "… et 1 autres" in render_message(body("sync_rejected", errors=errors, locale="fr")).text


def test_a_media_aviv_named_but_vitrine_never_sent_is_still_described() -> None:
    url = "https://elsewhere.example/x.jpg"
    unknown = {"id": None, "url": url, "title": None, "status": "DOWNLOADING_FAILED", "position": None,
               "reason": "the portal could not download the file from its URL", "mediaType": None,
               "sentUrl": url}  # fmt: skip
    text = render_message(body("media_error", media=[unknown])).text
    assert "Media not found in the listing: the portal could not download" in text
    assert "\nhttps://elsewhere.example/x.jpg" in text


def test_without_a_page_link_the_text_just_ends_with_the_reference() -> None:
    without = {k: v for k, v in body("stuck").items() if k != "ownerPageUrl"}
    text = render_message(without).text
    assert "status page" not in text and text.endswith(f"Reference: {without['id']}\n")


def test_a_long_listing_id_is_shortened_in_the_subject_but_whole_in_the_text() -> None:
    long_id = "Résidence-Élysée-" + "x" * 150
    message = render_message(body("quality_warning", listingId=long_id, locale="fr"))
    assert len(message.subject) <= SUBJECT_MAX_LENGTH and message.subject.startswith(
        "Annonce Residence-Elysee-"
    )
    assert long_id in message.text


def test_typographic_characters_are_transliterated_in_subjects() -> None:
    typographic = "C\u0153ur de ville \u2013 l\u2019annonce \u201cphare\u201d\u2026"
    assert ascii_subject(typographic) == 'Coeur de ville - l\'annonce "phare"...'
    assert ascii_subject("Photo « séjour » 12\u00a0m²") == "Photo sejour 12 m2"
    assert Headline("fr").rejected("ÉTÉ-1", 2) == "Annonce ETE-1 refusee par AVIV : 2 erreurs a corriger"
    assert Headline("fr", plain=True).rejected("ÉTÉ-1", 0) == "Annonce ÉTÉ-1 refusée par AVIV"
