"""The fault matrix's diagonal (every crash point and every failure kind once): after the crash, the
failure and recovery, AVIV holds the last desired state, once, with no extra download, no lost edit
and at most one notification per problem. ``make proof`` runs every cell (python -m devtools.faults).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.faults.matrix import diagonal, shared_peers
from devtools.faults.scenarios import COLUMNS, ROWS, CrashPoint, FailureKind, run_cell
from devtools.faults.world import Peers
from vitrine.observability import metrics

CELLS = diagonal()


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    with shared_peers() as running:
        yield running


def test_the_diagonal_covers_every_crash_point_and_every_failure_kind() -> None:
    assert {row for row, _ in CELLS} == set(ROWS)
    assert {column for _, column in CELLS} == set(COLUMNS)


@pytest.mark.parametrize(
    ("row", "column"), CELLS, ids=[f"{row.label} x {column.label}" for row, column in CELLS]
)
def test_a_crash_and_a_failure_leave_aviv_right_once_recovered(
    peers: Peers, row: CrashPoint, column: FailureKind
) -> None:
    metrics.clear_metrics()
    result = run_cell(peers, row, column)
    assert result.ok, result.cell()
