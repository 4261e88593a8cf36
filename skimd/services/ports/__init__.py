"""The ports the services own: what they need from a broker, a scheduler, storage and a
chart renderer, as protocols and the plain records that cross them.

Infrastructure implements these (and imports nothing else of the services but the job
types of :mod:`skimd.services.jobs`); the services depend on them and never on an
implementation. The composition root (:mod:`skimd.bootstrap`) plugs the two together.
"""
