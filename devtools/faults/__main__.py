"""``python -m devtools.faults [--diagonal]``: run the fault matrix and print it."""

import sys

from devtools.faults.matrix import main

sys.exit(main())
