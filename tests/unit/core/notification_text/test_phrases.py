"""The notifications' words: English and French say the same things, with the same fields."""

from __future__ import annotations

import string

from vitrine.core.locales import LOCALES
from vitrine.core.notification_text.phrases import EN, FR, PHRASES, phrases


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_defines_the_same_keys() -> None:
    assert set(EN) == set(FR)
    assert sorted(PHRASES) == sorted(LOCALES)


def test_every_phrase_uses_the_same_fields_in_both_languages() -> None:
    assert {key: fields(EN[key]) for key in EN} == {key: fields(FR[key]) for key in EN}


def test_subject_templates_keep_the_listing_id_for_last() -> None:
    for table in (EN, FR):
        for key, template in table.items():
            if key.startswith("subject_"):
                assert "{{id}}" in template, key


def test_a_regional_or_unknown_locale_falls_back_sensibly() -> None:
    assert phrases("fr-FR") is FR and phrases("FR") is FR
    assert phrases("de") is EN and phrases(None) is EN
