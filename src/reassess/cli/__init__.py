"""The command line: `reassess eval | import | metrics | demo | ...` (typer + rich)."""
