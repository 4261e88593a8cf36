"""An in-process simulated ASX: a seeded universe, opening gaps, intraday paths,
announcements and a paper broker filling against them. Driven only by the injected Clock."""
