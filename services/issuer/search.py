"""A region's search of its own credentials (``GET /v1/credentials``): what an agency's front desk
finds by type, status, time of issue or the holder's ID number, a page at a time.

The holder's ID number is found by its keyed hash only (:mod:`ecert.rules.search`): at issuance the
record keeps ``holder_hash``, HMAC-SHA256 under the region's search key; the key is a file 0600 in
the region's folder (:func:`open_search_key`), made on the first start, shared by every issuer
process of the region as its keyring is. Records issued before the hash was kept have none: they are
found by every other filter, never by holder.

An answer is a summary of each credential (id, type, version, status, times, region, display id):
no field of the document, no QR text; the record itself is ``GET /v1/credentials/{id}``. Every
credential a search answers is a use of its holder's record: each gets an entry in the region's
trail (action ``search``, result ``by_holder`` for a search by ID number, else ``listed``, the
searcher's organisation, role, region and purpose), written before the page is answered, so the
holder's access log shows who looked them up. Logs name no number and no person.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecert.errors import ConfigError
from ecert.files import private_dirs
from ecert.rules import search, trail
from ecert.rules.access import Principal, purpose_for, require_issuer
from ecert.rules.requests import check_purpose
from ecert.vocab import TrailAction

from .trail import record_of

if TYPE_CHECKING:
    from .domain import Issuer

log = logging.getLogger("ecert.issuer.search")

KEY_FILE = "search-key"
"""The region's search key in its folder: the key's hex, 0600."""
SUMMARY = ("region", "type", "version", "status", "issued_at", "expires_at", "display_id")
"""What a search reads and answers of a record (and its ``_id``)."""
BY_HOLDER, LISTED = "by_holder", "listed"
"""The result a search's trail entry carries: found by the holder's ID number, or in a listing."""


class Query(NamedTuple):
    """A search as asked (each filter ``""`` / 0 for any; ``holder_id`` the number in clear, hashed here)."""

    type: str = ""
    status: str = ""
    issued_from: int = 0
    issued_before: int = 0
    holder_id: str = ""
    limit: int = 0
    cursor: str = ""
    purpose: str = ""


class Page(NamedTuple):
    """The credentials found (:data:`SUMMARY` of each, newest first) and the cursor of the next page
    (``""``: this was the last)."""

    items: list[dict]
    next_cursor: str


def open_search_key(folder: Path) -> bytes:
    """The region's search key, ``<folder>/search-key``: made on the first start (whole or not at
    all, and once: two processes starting together keep the same one), read on every later one.
    A damaged file is a ConfigError (a new key would lose every holder hash made with the old)."""
    path = folder / KEY_FILE
    if not path.exists():
        private_dirs(folder)
        tmp = folder / f".{KEY_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                os.fchmod(fh.fileno(), 0o600)  # a left-over temporary file keeps its mode through O_CREAT
                fh.write(secrets.token_hex(search.SEARCH_KEY_BYTES) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another process made it first: theirs is kept
                log.info("search key created in %s", folder)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        text = path.read_text("ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError) as err:
        raise ConfigError(f"the search key {path} is unreadable or damaged", field="search_key") from err
    if len(key) != search.SEARCH_KEY_BYTES:
        raise ConfigError(f"the search key {path} is damaged: not {search.SEARCH_KEY_BYTES} bytes",
                          field="search_key")
    return key


class CredentialSearch:
    """The search of ``issuer``'s region, under its search ``key`` (None: one made for this process
    alone, for an issuer in memory)."""

    def __init__(self, issuer: Issuer, key: bytes | None = None):
        self.issuer = issuer
        self.key = key if key is not None else secrets.token_bytes(search.SEARCH_KEY_BYTES)

    def holder_hash(self, fields: dict) -> str | None:
        """What an issued record keeps of its holder's ID number (None: it names none)."""
        return search.record_holder_hash(self.key, fields)

    async def find(self, p: Principal, q: Query) -> Page:
        """One page of the region's credentials matching ``q``, for the region's agencies and admins
        (403 for any other caller); 400 naming the filter at fault. Each one answered is recorded in
        the trail first (a trail that cannot be written: 503, and nothing is answered)."""
        issuer = self.issuer
        require_issuer(p, issuer.region)
        purpose = purpose_for(p, check_purpose(q.purpose)).value
        issued_from, issued_before = search.check_issued(q.issued_from, q.issued_before)
        filters = search.Filters(
            region=issuer.region, type=search.check_type_filter(q.type), status=search.check_status_filter(q.status),
            issued_from=issued_from, issued_before=issued_before,
            holder_hash=search.holder_hash(self.key, q.holder_id) if q.holder_id else "")
        limit = search.check_limit(q.limit)
        after = search.decode_cursor(q.cursor, filters, self.key)
        docs = await issuer.store.find_credentials(
            issuer.region, type=filters.type, status=filters.status, issued_from=filters.issued_from,
            issued_before=filters.issued_before, holder_hash=filters.holder_hash, after=after, limit=limit + 1,
            fields=SUMMARY)
        more = len(docs) > limit
        docs = docs[:limit]
        result = BY_HOLDER if filters.holder_hash else LISTED
        now = issuer.now()
        await issuer.trail.append_records([
            trail.check_record(record_of(p, action=TrailAction.SEARCH, credential_id=d["_id"], purpose=purpose,
                                         outcome=result, at=now)) for d in docs])
        log.info("a search of %s by %s (%s) answered %d credential(s)%s", issuer.region, p.role, result, len(docs),
                 ", more follow" if more else "")
        last = docs[-1] if more else None
        return Page(docs, search.encode_cursor(last["issued_at"], last["_id"], filters, self.key) if last else "")
