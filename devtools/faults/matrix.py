"""Run cells of the fault matrix and print it: rows are crash points, columns failure kinds.

``python -m devtools.faults`` runs every cell (``make proof``); ``--diagonal`` only the cells that
cover each row and each column once (what ``make test`` runs, as one test per cell). Writes
``fault_matrix.json`` into ``$VITRINE_PROOF_FIGURES_DIR`` when set. Exit status 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.aviv_emulator.emulator import AvivEmulator
from devtools.faults.checks import CellResult
from devtools.faults.scenarios import COLUMNS, ROWS, CrashPoint, FailureKind, run_cell
from devtools.faults.world import Peers, in_process_aws
from devtools.media_server import MediaServer
from vitrine.observability import metrics

SHORT_LABELS = {
    "none": "none", "AVIV timeout before read": "t/o pre", "AVIV timeout after read": "t/o post",
    "AVIV connection reset": "reset", "AVIV 500": "500", "AVIV 502": "502", "AVIV 503": "503",
    "AVIV 429 Retry-After": "429", "AVIV 401 expired token": "401", "AVIV 202 answer lost": "202 lost",
    "DynamoDB throttled": "DDB thr", "DynamoDB race": "DDB race", "DynamoDB unavailable": "DDB down",
    "SQS throttled": "SQS thr", "SQS unavailable": "SQS down", "SNS throttled": "SNS thr",
    "SNS unavailable": "SNS down",
}  # fmt: skip
FIGURES_FILE = "fault_matrix.json"


def diagonal() -> list[tuple[CrashPoint, FailureKind]]:
    """Cell i is (row i, column i), both wrapping around: every row and every column once at least."""
    return [(ROWS[i % len(ROWS)], COLUMNS[i % len(COLUMNS)]) for i in range(max(len(ROWS), len(COLUMNS)))]


def every_cell() -> list[tuple[CrashPoint, FailureKind]]:
    return [(row, column) for row in ROWS for column in COLUMNS]


@contextmanager
def shared_peers() -> Iterator[Peers]:
    """moto in process, and the AVIV emulator and media host every cell shares (reset per cell)."""
    with in_process_aws(), AvivEmulator(fault_hang_seconds=2.0) as emulator, MediaServer() as media:
        yield Peers(emulator, media)


@dataclass
class Matrix:
    cells: dict[tuple[str, str], CellResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(1 for result in self.cells.values() if not result.ok)

    def to_json(self) -> dict[str, Any]:
        rows = [row.label for row in ROWS if any(key[0] == row.label for key in self.cells)]
        columns = [c.label for c in COLUMNS if any(key[1] == c.label for key in self.cells)]
        return {
            "rows": rows,
            "columns": columns,
            "short_columns": [SHORT_LABELS[c] for c in columns],
            "cells": {
                f"{row} | {column}": {
                    "cell": r.cell(),
                    "ok": r.ok,
                    "violations": r.violations,
                    "notes": r.notes,
                    "failure_injected": r.failure_injected,
                }
                for (row, column), r in self.cells.items()
            },
            "cells_run": len(self.cells),
            "cells_failed": self.violations,
            "cells_not_hit": sum(1 for r in self.cells.values() if r.ok and not r.failure_injected),
            "republished_same_id": sum(1 for r in self.cells.values() if r.notes),
            "seconds": round(self.seconds, 1),
        }


def run(cells: Sequence[tuple[CrashPoint, FailureKind]], *, echo: bool = True) -> Matrix:
    matrix = Matrix()
    started = time.monotonic()
    with shared_peers() as peers:
        for row, column in cells:
            metrics.clear_metrics()  # never flushed here: would pile up and print itself
            result = run_cell(peers, row, column)
            matrix.cells[(row.label, column.label)] = result
            if echo:
                print(f"  {row.label:34} {column.label:26} {result.cell()}", flush=True)
    matrix.seconds = time.monotonic() - started
    return matrix


def render(matrix: Matrix) -> str:
    """The matrix as text: one line per crash point, one mark per failure kind, then the details."""
    data = matrix.to_json()
    width = max(len(short) for short in data["short_columns"])
    lines = [" " * 36 + " ".join(short.rjust(width) for short in data["short_columns"])]
    details: list[str] = []
    for row in data["rows"]:
        marks = []
        for column in data["columns"]:
            cell = data["cells"].get(f"{row} | {column}")
            if cell is None:
                marks.append(" " * width)
                continue
            marks.append(
                ("✓" if cell["ok"] and cell["failure_injected"] else "·" if cell["ok"] else "✗").rjust(width)
            )
            if not cell["ok"] or cell["notes"]:
                details.append(f"  {row} x {column}: {cell['cell']}")
        lines.append(f"{row:36}" + " ".join(marks))
    lines.append("✓ held · the failure never happened in this operation ✗ violated")
    return "\n".join(lines + details)


def write_figures(matrix: Matrix, directory: str | None = None) -> Path | None:
    directory = directory or os.environ.get("VITRINE_PROOF_FIGURES_DIR")
    if not directory:
        return None
    path = Path(directory) / FIGURES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(matrix.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--diagonal", action="store_true", help="only the diagonal (make test's cells)")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the handlers' own log lines are not the report
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    cells = diagonal() if args.diagonal else every_cell()
    print(f"fault matrix: {len(cells)} cells ({len(ROWS)} crash points x {len(COLUMNS)} failure kinds)")
    matrix = run(cells)
    print(render(matrix))
    write_figures(matrix)
    failed = matrix.violations
    print(f"{'PASS' if not failed else 'FAIL'}: {len(cells) - failed}/{len(cells)} cells held"
          f" ({matrix.seconds:.0f} s)")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
