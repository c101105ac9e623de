"""What notifications say: subjects ASCII and short, portals named, bodies following the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.core.reconcile.scenarios import (
    LISTING,
    VALIDATOR,
    sent,
)
from vitrine.core.reconcile.aviv_status import map_failed_media
from vitrine.core.reconcile.wording import SUBJECT_MAX_LENGTH, ascii_subject, media_error_subject


@pytest.mark.parametrize(
    ("portals", "named"),
    [
        (["BUCOM"], "Bureaux & Commerces"),
        (["SLC", "SLN", "SL"], "SeLoger Construire, SeLoger Neuf and SeLoger"),
    ],
)
def test_portal_codes_become_names(portals: list[str], named: str) -> None:
    failed = map_failed_media(
        [{"url": sent().body["media"][0]["url"], "status": "DOWNLOADING_FAILED"}], sent()
    )
    assert media_error_subject(LISTING, failed, portals).endswith(named)


def test_subjects_are_ascii_and_short_even_for_long_accented_ids() -> None:
    long_id = "Résidence-Élysée-" + "x" * 200
    failed = map_failed_media(
        [{"url": sent().body["media"][0]["url"], "status": "DOWNLOADING_FAILED"}], sent()
    )
    subject = media_error_subject(long_id, failed, ["SL"])
    assert len(subject) <= SUBJECT_MAX_LENGTH and subject.isascii()
    assert subject.startswith("1 photo of listing Residence-Elysee-") and subject.endswith(
        "downloaded by SeLoger"
    )
    assert ascii_subject("Ligne\nsuivante\tfin") == "Ligne suivante fin"


def test_the_documented_examples_follow_the_schema() -> None:
    import re

    doc = (Path(__file__).resolve().parents[4] / "docs" / "notifications.md").read_text()
    examples = [b for b in re.findall(r"```json\n(.*?)```", doc, re.S) if '"schemaVersion"' in b]
    assert len(examples) >= 2
    for example in examples:
        errors = [e.message for e in VALIDATOR.iter_errors(json.loads(example))]
        assert not errors, errors
