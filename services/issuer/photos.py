"""A region's photo library: "photograph once, reuse many times".

An agency uploads a portrait (:meth:`PhotoLibrary.put`); it is checked and re-encoded to the
picture alone (:mod:`ecert.imaging.portrait`: no EXIF, no location, no ICC or text) and kept once
in the region's library under the SHA-256 of the stored bytes, the digest a credential's
``photo`` field carries. A credential may only name a photo its region holds
(:meth:`PhotoLibrary.check_held`, 422 ``PHOTO_UNKNOWN``), or ask for the portrait already on file
for the holder's citizen ID number (``"photo": {"reuse_for": "<ID number>"}``,
:meth:`PhotoLibrary.for_issue`): the library keeps, per region, the newest portrait of every ID
number it issued a credential with a photo for, keyed by the SHA-256 of the number (never the
number itself). A photo is served (:meth:`PhotoLibrary.get`) only for a credential of this region
that names it, to a caller whose role is shown ``photo`` for the credential's type (an agency of
another region as the type says, :func:`~ecert.rules.access.disclosure_role`): the credential the
caller names, or, when it names none, the newest of the region's credentials naming the photo
whose type shows it to the caller. Uploads are re-encoded a few at a time
(:data:`_REENCODERS`); more than :data:`~ecert.limits.MAX_PHOTO_UPLOADS_WAITING` held at once
is 503 ``BUSY``.

The holder's trail records each reuse of a portrait for a credential (``photo_reuse``) and each
time a credential's photo was served (``photo_access``, with the caller's purpose). Logs name no
person and no picture: sizes and credential ids only.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from typing import TYPE_CHECKING, Any

from ecert.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RuleViolation,
    Unavailable,
)
from ecert.format import credential
from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_UPLOADS_WAITING
from ecert.rules.access import (
    Principal,
    disclosure_role,
    purpose_for,
    require_issuer,
    require_role,
)
from ecert.rules.requests import check_photo_digest, check_purpose
from ecert.vocab import VERIFY_ROLES, TrailAction

if TYPE_CHECKING:
    from .domain import Issuer

log = logging.getLogger("ecert.issuer.photos")

PHOTO_FIELD = "photo"
ID_FIELD = "id_number"
REUSE = "reuse_for"
MAX_ID_NUMBER = 64
"""Characters of a ``reuse_for`` ID number (a citizen ID is 18)."""
_REENCODERS = max(1, min(4, os.cpu_count() or 1))
"""Portraits decoded and re-encoded at once by one issuer (each may hold tens of MB while it is)."""
SEARCHED = 20
"""Credentials naming a photo looked at (the newest first) to find one whose type shows it to a
caller who names none (a portrait is named by its holder's few documents)."""
HELD_MEMORY = 100_000
"""Digests an issuer remembers its library holds (a photo, once kept, is never removed): issuing a
credential that names one asks the store nothing."""


def id_hash(id_number: str) -> str:
    """The key of an ID number in the index of portraits on file (the number itself is never kept)."""
    return hashlib.sha256(id_number.strip().upper().encode("utf-8")).hexdigest()


class PhotoLibrary:
    """The photo library of ``issuer``'s region (its store, clock, types and trail)."""

    def __init__(self, issuer: Issuer):
        self.issuer = issuer
        self._reencoding = asyncio.Semaphore(_REENCODERS)
        self._uploads = 0  # uploads being re-encoded or waiting for it
        self._held: set[str] = set()  # digests known to be in the library

    @property
    def region(self) -> str:
        return self.issuer.region

    # -- uploads ---------------------------------------------------------------------------
    async def put(self, p: Principal, data: bytes) -> tuple[portrait.Portrait, bool]:
        """Check, re-encode and keep a portrait (agency of the region, admin): the stored portrait,
        and whether it is new (False: the library held this picture already). 503 ``BUSY`` while
        :data:`~ecert.limits.MAX_PHOTO_UPLOADS_WAITING` uploads are being re-encoded or wait for it."""
        require_issuer(p, self.region)
        if self._uploads >= MAX_PHOTO_UPLOADS_WAITING:
            raise Unavailable("too many portraits are being re-encoded: try again shortly", code="BUSY")
        self._uploads += 1
        try:
            async with self._reencoding:
                stored = await asyncio.get_running_loop().run_in_executor(None, portrait.reencode, bytes(data))
        finally:
            self._uploads -= 1
        created = await self.issuer.store.add_photo(self.region, stored.digest, stored.media_type, stored.data,
                                                    stored.width, stored.height, self.issuer.now())
        self._remember(stored.digest)
        log.info("a portrait (%d×%d, %d bytes) %s the %s library", stored.width, stored.height, len(stored.data),
                 "was added to" if created else "was already in", self.region)
        return stored, created

    # -- issuance --------------------------------------------------------------------------
    async def for_issue(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The fields with a ``{"reuse_for": "<ID number>"}`` photo replaced by the digest of the
        newest portrait on file for that number in this region (and that digest; None when the
        fields name a photo, or none, themselves). 422 ``PHOTO_NOT_ON_FILE`` when there is none;
        a number other than the credential's own ``id_number`` is ``FIELDS_INCONSISTENT``."""
        ref = fields.get(PHOTO_FIELD)
        if not isinstance(ref, dict):
            return fields, None
        number = ref.get(REUSE)
        if set(ref) != {REUSE} or not isinstance(number, str) or not 0 < len(number.strip()) <= MAX_ID_NUMBER:
            raise InvalidRequest(f'photo must be a digest (64 hex digits) or {{"{REUSE}": "<citizen ID number>"}}',
                                 field=PHOTO_FIELD)
        own = fields.get(ID_FIELD)
        if isinstance(own, str) and own.strip().upper() != number.strip().upper():
            raise RuleViolation(f"photo.{REUSE} must be the credential's own {ID_FIELD}: a portrait is reused only "
                                "for the person it shows", code="FIELDS_INCONSISTENT", fields=(PHOTO_FIELD, ID_FIELD))
        held = await self.issuer.store.get_photo_owner(self.region, id_hash(number))
        if held is None:
            raise RuleViolation(f"no portrait is on file in {self.region} for this ID number: upload one "
                                "(POST /v1/photos) and name its digest", code="PHOTO_NOT_ON_FILE", field=PHOTO_FIELD)
        return {**fields, PHOTO_FIELD: held["digest"]}, held["digest"]

    async def check_held(self, fields: dict[str, Any]) -> None:
        """A ``photo`` the (schema-valid) fields name is in this region's library, else 422 ``PHOTO_UNKNOWN``."""
        digest = fields.get(PHOTO_FIELD)
        if not isinstance(digest, str) or digest in self._held:
            return
        if await self.issuer.store.has_photo(self.region, digest):
            self._remember(digest)
        else:
            raise RuleViolation(f"the photo is not in the {self.region} photo library: upload it first "
                                "(POST /v1/photos) and name the digest it answers", code="PHOTO_UNKNOWN",
                                field=PHOTO_FIELD)

    def _remember(self, digest: str) -> None:
        if len(self._held) >= HELD_MEMORY:
            self._held.clear()
        self._held.add(digest)

    async def issued(self, doc: dict) -> None:
        """A credential was issued: its portrait is now the one on file for its ID number (its trail
        records a reuse: :meth:`Trail.issued <services.issuer.trail.Trail.issued>`)."""
        fields = doc["fields"]
        digest, number = fields.get(PHOTO_FIELD), fields.get(ID_FIELD)
        if isinstance(digest, str) and isinstance(number, str) and number:
            await self.issuer.store.set_photo_owner(self.region, id_hash(number), digest, doc["_id"],
                                                    doc["issued_at"], doc["status_idx"])

    # -- serving ---------------------------------------------------------------------------
    async def get(self, p: Principal, digest: str, credential_id: str = "", *, without_image: bool = False,
                  purpose: str = "") -> dict:
        """The photo ``digest`` of this region's credential ``credential_id`` (its store document,
        ``bytes`` empty with ``without_image``), for a caller shown ``photo`` for the credential's
        type; the access is recorded in the credential's trail, with the ``purpose`` (one of the
        role's; none: its default). Without ``credential_id``: of the newest credential of this
        region naming the photo whose type shows it to the caller (:meth:`_shown_credential`).
        404 for an unknown credential, one of another region or one that names another photo (none
        named: no credential of this region names it); 403 for a role not shown it."""
        require_role(p, *VERIFY_ROLES)
        digest = check_photo_digest(digest)
        judged = purpose_for(p, check_purpose(purpose)).value
        if credential_id:
            doc = await self._named_credential(p, digest, credential_id)
        else:
            doc = await self._shown_credential(p, digest)
        if without_image:
            found = await self.issuer.store.has_photo(self.region, digest)
            photo = {"digest": digest, "media_type": portrait.MEDIA_TYPE, "bytes": b"", "width": 0, "height": 0}
        else:
            photo = await self.issuer.store.get_photo(self.region, digest)
            found = photo is not None
        if not found:  # a credential issued before the library, naming a digest it never held
            raise NotFound(f"the photo is not in the {self.region} photo library", field="digest")
        await self.issuer.trail.append(action=TrailAction.PHOTO_ACCESS, credential_id=doc["_id"], actor=p,
                                       purpose=judged, outcome="not_modified" if without_image else "served")
        return photo  # type: ignore[return-value]

    async def _named_credential(self, p: Principal, digest: str, credential_id: str) -> dict:
        """This region's credential ``credential_id``, which names photo ``digest`` and whose type shows
        it to ``p``; else 404 (unknown here, or naming another photo) or 403."""
        doc = await self.issuer.store.get_credential(credential_id) if credential.id_to_cti(credential_id) else None
        if doc is None or doc["region"] != self.region:
            raise NotFound(f"no credential {credential_id[:40]} in {self.region}", field="credential")
        if doc["fields"].get(PHOTO_FIELD) != digest:
            raise NotFound("the credential names no such photo", field="digest")
        if not await self._shows(p, doc, digest):
            raise PermissionDenied(f"role {p.role} is not shown the photo of a {doc['type']}")
        return doc

    async def _shown_credential(self, p: Principal, digest: str) -> dict:
        """The newest of this region's credentials naming photo ``digest`` (among the :data:`SEARCHED`
        newest) whose type shows it to ``p``: 404 when none names it, 403 when none shows it."""
        docs = await self.issuer.store.credentials_naming_photo(self.region, digest, limit=SEARCHED)
        if not docs:
            raise NotFound(f"no credential of {self.region} names the photo", field="digest")
        for doc in docs:
            if await self._shows(p, doc, digest):
                return doc
        raise PermissionDenied(f"role {p.role} is not shown the photo of the {self.region} credentials naming it")

    async def _shows(self, p: Principal, doc: dict, digest: str) -> bool:
        """Whether the type of credential ``doc`` (of this region) shows its photo to ``p``."""
        ts = await self.issuer.type_schema(doc["type"], doc["version"])
        return PHOTO_FIELD in ts.disclosed(disclosure_role(p, self.region), {PHOTO_FIELD: digest})
