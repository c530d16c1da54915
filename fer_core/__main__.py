"""Allow ``python -m fer_core``."""

from fer_core.cli import main

raise SystemExit(main())
