"""The two sizes of the proof suites: a fast slice for ``make test``, the full counts for ``make proof``.

``VITRINE_PROOF=1`` (set by ``make proof``) selects the ``proof`` hypothesis profile and the large
case counts; without it the ``fast`` profile runs a bounded, derandomized slice so ``make test`` stays
quick and repeatable. Each suite prints its figures and, when ``VITRINE_PROOF_FIGURES_DIR`` is set,
writes them as ``<suite>.json`` there, for ``make proof`` to collect into its report.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

PROOF = os.environ.get("VITRINE_PROOF") == "1"
PROFILE = "proof" if PROOF else "fast"
FIGURES_DIR_VARIABLE = "VITRINE_PROOF_FIGURES_DIR"

settings.register_profile(
    "fast",
    max_examples=60,
    derandomize=True,  # make test explores the same cases every run: a failure is reproducible
    deadline=None,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "proof",
    max_examples=5_000,
    derandomize=False,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)


def scaled(fast: int, proof: int) -> int:
    """A case count: ``fast`` in make test, ``proof`` in make proof."""
    return proof if PROOF else fast


def report_figures(suite: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Print ``figures`` (one JSON line) and write them to ``$VITRINE_PROOF_FIGURES_DIR/<suite>.json``."""
    record = {
        "suite": suite,
        "profile": PROFILE,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        **figures,
    }
    print(f"[proof] {json.dumps(record, sort_keys=True, default=str)}")
    directory = os.environ.get(FIGURES_DIR_VARIABLE)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{suite}.json").write_text(
            json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
    return record
