"""Shared core of the e-certificate suite, in layers (each imports only those below it;
``make test`` checks this with import-linter, and docs/architecture.md draws it):

- :mod:`ecert.cli` — the ``ecert`` command and the development launcher (``make run``).
- :mod:`ecert.client` — a typed client of the gateway's HTTP API (standard library only), which
  the ``ecert`` command uses and integrators may too.
- :mod:`ecert.rpc` — gRPC servers, clients, streams, the error ↔ status table, the process
  lifecycle; :mod:`ecert.imaging` — QR codes drawn and read from pictures.
- :mod:`ecert.runtime` — configuration, logging, the event loop, refreshed copies, caches.
- :mod:`ecert.store` — the state store (SQLite or MongoDB); :mod:`ecert.rules` — the
  verification order, schemas, the catalogue, identifiers, access rules, request checks.
- :mod:`ecert.format` — the wire formats (Base45, COSE, EC1, EP1, status and trust lists).
- :mod:`ecert.errors`, :mod:`ecert.vocab`, :mod:`ecert.limits`, :mod:`ecert.clock` — the one
  error model, vocabulary, limits and injectable time everything shares.

The safe entry points are :func:`ecert.format.credential.issue` and
:func:`ecert.rules.verify.verify`; the rest is detail.
"""

__version__ = "0.1.0"
