"""The `sluice` command: options validated, flows called, results printed to fit the terminal."""
