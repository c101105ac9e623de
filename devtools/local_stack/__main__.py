"""``python -m devtools.local_stack`` (``make local``)."""

from devtools.local_stack.cli import main

raise SystemExit(main())
