"""docs/notifications.md shows what owners read, rendered by today's code: every kind, and French."""

from __future__ import annotations

import re

from devtools.notification_examples import DOC, examples_section, with_examples


def test_the_documented_examples_are_what_the_code_renders() -> None:
    current = DOC.read_text(encoding="utf-8")
    assert with_examples(current, examples_section()) == current, (
        "docs/notifications.md's rendered examples are stale: run python -m devtools.notification_examples"
    )


def test_the_doc_shows_every_kind_in_english_and_one_in_french() -> None:
    blocks = re.findall(r"```text\n(Subject: .*?)```", DOC.read_text(encoding="utf-8"), re.S)
    english = [b for b in blocks if "\nHello,\n" in b]
    french = [b for b in blocks if "\nBonjour,\n" in b]
    assert len(english) == 7 and len(french) >= 1
    for kind in ("media_error", "classified_error", "sync_rejected", "stuck", "quality_warning", "resolved"):
        assert any(f"Reference: {kind}:" in block for block in english), kind
