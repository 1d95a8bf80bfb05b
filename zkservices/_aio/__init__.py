"""The machinery behind :mod:`zkservices.aio`: round trips awaited on the event loop.

``ops`` (reads, link resolution, compare-and-set writes, settling), ``nodes`` (the
node calls: create, set, delete, ensure_path, ln), ``registering`` (registrations
written through awaited calls, kept in the session's registrar), ``views`` (the async
views) and ``streams`` (their changes for ``async for``).  The public names live in
:mod:`zkservices.aio`.
"""
