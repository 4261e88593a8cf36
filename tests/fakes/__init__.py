"""Fakes that play external systems (IBKR, ...) for tests and benchmarks."""
