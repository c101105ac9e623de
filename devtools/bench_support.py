"""Helpers shared by the scripts of bench/."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def handler_output_discarded() -> Iterator[None]:
    """Send fd 1 to /dev/null meanwhile: the handlers log a JSON line per call to stdout, as on
    Lambda. Writing them is part of the cost measured; their text is not part of the report."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        os.dup2(sink.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
