"""The journal: position sync with the broker, executions into trades and round trips,
balances, and the end-of-day records (excursions, plans, watchlist, mistakes, reports)."""
