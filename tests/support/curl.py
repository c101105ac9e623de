"""Reading back the signed curl command ``make local`` prints: its URL, headers and body."""

from __future__ import annotations

import shlex


def parse_curl(command: str) -> tuple[str, dict[str, str], bytes]:
    """The URL, the ``-H`` headers and the ``--data-raw`` body of a ``curl`` command line."""
    words = shlex.split(command.replace("\\\n", " "))
    url = next(w for w in words if w.startswith("http"))
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    body = words[words.index("--data-raw") + 1].encode("utf-8")
    return url, headers, body
