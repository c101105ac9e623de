"""``python -m vitrine_cli`` is ``vitrine``."""

from vitrine_cli.app import main

raise SystemExit(main())
