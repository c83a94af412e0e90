"""Judging what was built: Pandera validation of loaded and modelled tables, the plausibility of
published sales, the reconciliation of computed figures with the publisher's own."""
