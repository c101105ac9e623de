"""Property tests of the core: the ``fast`` hypothesis profile in make test, ``proof`` in make proof."""

from __future__ import annotations

import tests.support.proof  # noqa: F401  (registers and loads the hypothesis profile)
