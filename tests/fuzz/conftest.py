"""The fuzzed stack, started once per worker (starting one takes seconds; cases take milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import tests.support.proof  # noqa: F401  (registers and loads the hypothesis profile)
from devtools.local_stack.stack import LocalStack
from tests.fuzz.harness import fuzz_stack


@pytest.fixture(scope="module")
def local() -> Iterator[LocalStack]:
    with fuzz_stack() as started:
        yield started
