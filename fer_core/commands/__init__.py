"""One module per CLI command; see :mod:`fer_core.cli` for the contract."""
