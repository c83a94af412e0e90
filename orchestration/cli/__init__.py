"""The command line: `python -m orchestration.cli run | rebuild | report | audit` (what `make run`,
`make rebuild` and `make audit` call), with what only it needs: the fingerprint that answers a run
with nothing new at once, the launch of a run under its code location, what a run prints (`report`), the audit report."""
