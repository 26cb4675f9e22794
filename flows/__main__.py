"""`python -m flows` is the `sluice` command."""

from flows.cli import main

raise SystemExit(main())
