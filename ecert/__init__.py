"""Shared core of the e-certificate suite.

Everything the four services have in common lives here once: the wire formats
(Base45, COSE_Sign1, EC1 credentials, EP1 presentation tokens, status lists, the
signed trust list), keys, schema checks, the store layer, configuration, errors
and gRPC plumbing. The safe entry points are :mod:`ecert.credential` (issue) and
:mod:`ecert.verify` (verify); the rest is detail.
"""

__version__ = "0.1.0"
