"""Repositories: the contract (`base`, `sync_base`), providers, and the backends behind them."""
