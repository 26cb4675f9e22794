"""Sluice's own state: the store, the partition ledger and leased locks."""
