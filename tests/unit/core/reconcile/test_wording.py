"""What notifications say: subjects ASCII and short, portals named, bodies following the schema."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.unit.core.reconcile.scenarios import (
    CONTEXT,
    FAILING,
    LISTING,
    POLICY,
    T0,
    VALIDATOR,
    assert_valid,
    fresh,
    sent,
    status,
)
from vitrine.core.reconcile.aviv_status import interpret_status, map_failed_media
from vitrine.core.reconcile.send import reconcile_send
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


def test_each_notification_links_to_the_owners_status_page_and_the_problem_keeps_what_the_page_shows() -> (
    None
):
    link = "https://api.example/v1/owners/owner-7/listings?expires=1775120400&signature=abc_-1"
    last = sent()
    reading = interpret_status(status("UPDATED_WITH_MEDIA_ERROR", failed=FAILING), last, fresh(), POLICY)
    context = replace(CONTEXT, owner_page_url=link)
    decision = reconcile_send(fresh(), last, reading, context, now=T0 + timedelta(minutes=1), policy=POLICY)
    [notification] = decision.notifications
    assert notification.body["ownerPageUrl"] == link
    assert_valid(notification)
    [problem] = decision.state.problems.values()
    assert [(m["id"], m["position"], m["status"]) for m in problem.media] == [("m1", 1, "DOWNLOADING_FAILED")]
    assert problem.detail == notification.body["summary"]
    assert type(problem).from_dict(problem.to_dict()) == problem
