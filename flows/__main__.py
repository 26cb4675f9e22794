"""`python -m flows` is the `sluice` command."""

from flows.cli.main import main

raise SystemExit(main())
