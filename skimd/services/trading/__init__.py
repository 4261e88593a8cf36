"""The opening-gap trading day: scans, opening ranges, entries, guards, managing positions.

Every job here works through the protocols of :mod:`.ports` (store), the broker protocols
and the Clock; none talks to a library directly.
"""
