"""The machinery behind :mod:`zkservices.aio`: round trips awaited on the event loop.

``ops`` (reads, link resolution, compare-and-set writes, settling), ``registering``
(registrations written through awaited calls, kept in the session's registrar) and
``views`` (the async views and their streams of changes).  The public names live in
:mod:`zkservices.aio`.
"""
