"""Every size and count limit the suite enforces, written once.

The gateway, the services, the OpenAPI document and the scanner page use these names
(``tests/test_vocabulary.py`` holds the page's own copies to them). The wire formats' own
limits (text, COSE and status-list sizes) belong to the format contract and live with the
formats in :mod:`ecert.format`.
"""

from __future__ import annotations

MAX_PURPOSE = 200
"""Characters in a verification's ``purpose``."""
MAX_BATCH = 1000
"""Payloads in one batch verification."""
MAX_VALID_DAYS = 20 * 365
"""Days a credential may be issued for (``valid_days``)."""
MAX_REQUEST_ID = 128
"""Characters in an issuance's ``request_id`` (and in an ``X-Request-Id`` header)."""
MAX_TYPE_VERSION = 10_000
"""The highest version number of a certificate type."""
MAX_NAME = 200
"""Characters in a region's or a certificate type's name."""
MAX_SCHEMA_BYTES = 64 * 1024
"""Bytes of a certificate type's JSON Schema (UTF-8)."""
MAX_FIELDS_BYTES = 16 * 1024
"""Bytes of a credential's fields as JSON (UTF-8), at issuance."""
MAX_SPKI = 1024
"""Bytes of a public key (SubjectPublicKeyInfo DER) a region may register."""
MAX_EPOCH = 2**40
"""Epoch seconds accepted for a key's ``nbf``/``exp``: far beyond any key's life, inside int64."""
MAX_API_KEY = 128
"""Characters of an API key."""
MAX_RULE_ITEMS = 1000
"""Certificate types one purpose accepts, or regions one region recognises (one recognition rule)."""
MAX_ORG = 200
"""Characters of an API key's organisation name (``ecert apikey create --org``), as the trail names the checker."""
MAX_TRAIL_PAGE = 500
"""Entries in one page of a credential's access log (``GET /v1/credentials/{id}/access-log?limit=``)."""
DEFAULT_TRAIL_PAGE = 100
"""Entries in a page of the access log when the request names no ``limit``."""
MAX_TRAIL_BATCH = 1000
"""Entries a verifier delivers to an issuing region in one call (a bigger verification request: in one call too)."""
MAX_SEARCH_PAGE = 200
"""Credentials in one page of a region's search (``GET /v1/credentials?limit=``)."""
DEFAULT_SEARCH_PAGE = 50
"""Credentials in a page of a search when the request names no ``limit``."""
MAX_HOLDER_ID = 64
"""Characters of the ID number a search looks a holder up by (``holder_id``; a citizen ID is 18)."""
MAX_CURSOR = 256
"""Characters of a search's ``cursor`` (opaque: what the page before answered as ``next_cursor``)."""

MAX_KEY_LABEL = 200
"""Characters of an API key's ``label``."""
MAX_KEYS_PAGE = 500
"""API keys in one page of ``GET /v1/api-keys?limit=``."""
DEFAULT_KEYS_PAGE = 100
"""API keys in a page when the request names no ``limit``."""
MAX_QUOTA = 10**9
"""The largest request count an API key's quota may name (per minute or per day)."""

MAX_BODY = 1024 * 1024
"""Bytes of a JSON request body (the default of ``ECERT_MAX_BODY``)."""
MAX_PAYLOAD_CHARS = 1024 * 1024
"""Characters of one payload the verifier reads at all (the format limits are far below)."""
MAX_IMAGE_BYTES = 10 * 1024 * 1024
"""Bytes of a picture to read QR codes from."""
MAX_IMAGE_PIXELS = 40_000_000
"""Pixels of such a picture (a 48 MP phone photo is 8000×6000; one grayscale copy is 40 MB)."""
MAX_CODES_PER_IMAGE = 16
"""QR codes answered from one picture."""
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes of a multipart verification beyond its picture: the purpose part and the framing."""
MAX_MULTIPART = MAX_IMAGE_BYTES + MULTIPART_OVERHEAD
"""Bytes of a whole multipart verification body."""
MAX_PURPOSE_PART = 4096
"""Bytes of the ``purpose`` part of a multipart verification (its text is then held to MAX_PURPOSE)."""

MAX_PHOTO_BYTES = 5 * 1024 * 1024
"""Bytes of a portrait uploaded to a region's photo library (``POST /v1/photos``, JPEG or PNG)."""
MAX_PHOTO_PIXELS = 25_000_000
"""Pixels of such a portrait, from its header before any is decoded (more: 413, a decompression bomb)."""
MIN_PHOTO_SIDE = 96
"""Pixels of a portrait's shorter side at least (a resident ID card's chip photo is 102 × 126)."""
MAX_PHOTO_SIDE = 10_000
"""Pixels of a portrait's longer side at most."""
PHOTO_ASPECT = (1.0, 1.6)
"""A portrait's height over its width, from square to a tall ID photo (2 inch 35 × 49 mm is 1.4)."""
PHOTO_STORED_SIDE = 1024
"""Pixels of a stored portrait's longer side at most (a larger one is scaled down when re-encoded)."""
MAX_PHOTO_UPLOADS_WAITING = 16
"""Uploaded portraits one issuer holds at once, being re-encoded or waiting for it (each up to
MAX_PHOTO_BYTES): one more is 503 ``BUSY``."""

MAX_OFFLINE_CHECKS = 100
"""Checks one call delivers of those a scanner page made offline (``POST /v1/verifications:offline``)."""
MAX_OFFLINE_AGE = 30 * 86400
"""Seconds a check made offline may be behind the verifier's clock when it is delivered (older: 400, the
page drops it); it may be ahead by the clock skew at most."""
MAX_CLIENT_ID = 64
"""Characters of a check's client-made ``id`` (a UUID is 36)."""
MAX_REGION_LISTS_BYTES = 8 * 1024 * 1024
"""Bytes of the signed status lists one answer of a region's lists holds (``GET /v1/status-lists?region=``):
the shards past it come with the next call (``from_shard``)."""
