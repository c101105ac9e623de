"""A generated section of a doc: the text between two HTML comment markers, rewritten or checked.

``docs/architecture.md``'s layout table and ``docs/notifications.md``'s rendered examples are made by
code (``devtools.layout_doc``, ``devtools.notification_examples``); both share this way of putting
them in place, and a ``--check`` that says when a doc is stale.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeneratedSection:
    """The section of ``doc`` between ``begin`` and ``end``, made by ``make``."""

    doc: Path
    begin: str
    end: str
    make: Callable[[], str]

    def within(self, document: str, section: str | None = None) -> str:
        """``document`` with the text between the markers replaced by ``section`` (default: made now)."""
        start, end = document.index(self.begin) + len(self.begin), document.index(self.end)
        made = self.make() if section is None else section
        return document[:start] + "\n" + made + "\n" + document[end:]

    def main(self, argv: list[str] | None, description: str) -> int:
        """Rewrite the doc in place, or with ``--check`` exit 1 when it is stale."""
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--check", action="store_true", help="exit 1 when the section is stale")
        args = parser.parse_args(argv)
        current = self.doc.read_text(encoding="utf-8")
        wanted = self.within(current)
        if args.check:
            return 0 if current == wanted else 1
        self.doc.write_text(wanted, encoding="utf-8")
        return 0
