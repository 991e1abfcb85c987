"""Accounts: people, their sessions and API tokens, and the region-scoped roles they hold."""
