"""Show codes (EP1, 亮证): minted for a valid credential on the holder's behalf, kept by the
issuer for their lifetime so the holder's app (or the scanner page) can draw them again, and
answered once.

A code lives at most 300 s (:data:`ecert.format.presentation.MAX_TTL`). Its text is kept in the
store's ``presentations`` collection for that lifetime and drawn again only until it is resolved
(the store's ``tokens`` say so: a resolution costs no write here); once it has expired its text
is dropped within :data:`SWEEP_EVERY` seconds (:meth:`ShowCodes.keep_swept`, in the background),
and the document that stays says only which credential, when, and the purpose the holder chose.
That purpose limits the code: a resolution for another purpose is ``NOT_ACCEPTED_FOR_PURPOSE``
(:meth:`ShowCodes.refusal`).

Plain Python over the store, the region's signing key and the clock (no transport): the
:class:`~services.issuer.domain.Issuer` calls it with its own key and its own instant.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ecert.clock import Clock
from ecert.errors import NotFound
from ecert.format import credential, keys, presentation
from ecert.rules.verify import DEFAULT_SKEW
from ecert.store import Store

log = logging.getLogger("ecert.issuer.presentations")

LIVE, EXPIRED = "live", "expired"
"""A show code's ``state`` in the store: its text is kept only while it is live."""
SWEEP_EVERY = 60
"""Seconds between two looks for codes that expired unused (their text is dropped)."""
SWEEP_BATCH = 256
"""Live codes one read of the store gives a look (it reads again while they have all expired)."""
EXPIRY_GRACE = DEFAULT_SKEW
"""Seconds past its ``exp`` the issuer still resolves a code (a verifier whose clock is behind has
checked its freshness already); later the issuer answers ``EXPIRED`` itself."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A show code as the issuer keeps it while it is live."""

    token: str          # "EP1:..."
    token_id: str       # the token's cti, hex
    credential_id: str
    purpose: str        # the purpose the holder chose, "" for any
    issued_at: int
    expires_at: int


def check_token_id(token_id: str) -> str:
    """A token id as the store keys it (32 hex digits, lower case); anything else is unknown (404)."""
    if not presentation.looks_like_token_id(token_id):
        raise NotFound("no such show code")
    return token_id.lower()


def _shown(doc: dict) -> Shown:
    return Shown(doc["text"], doc["_id"], doc["credential_id"], doc.get("purpose", ""), doc["iat"], doc["exp"])


class ShowCodes:
    """One region's show codes in the store."""

    def __init__(self, region: str, store: Store):
        self.region = region
        self.store = store

    async def mint(self, key: keys.Signer, cred_id: str, purpose: str, now: int) -> Shown:
        """A new code for ``cred_id`` (the caller has checked it may be presented), kept while live."""
        token, claims = presentation.issue(key, iss=self.region, credential_cti=credential.id_to_cti(cred_id), now=now)
        doc = {"_id": claims.cti.hex(), "region": self.region, "credential_id": cred_id, "text": token,
               "iat": claims.iat, "exp": claims.exp, "purpose": purpose, "state": LIVE}
        await self.store.add_presentation(doc)
        return _shown(doc)

    async def live(self, cred_id: str, token_id: str, now: int) -> Shown:
        """The live code ``token_id`` of ``cred_id`` (this region's); 404 ``NOT_FOUND`` for one
        unknown here or of another credential, ``PRESENTATION_USED`` once resolved,
        ``PRESENTATION_EXPIRED`` past its ``exp``: the holder is to show a fresh one."""
        doc = await self.store.get_presentation(check_token_id(token_id))
        if doc is None or doc.get("region") != self.region or doc.get("credential_id") != cred_id:
            raise NotFound("no such show code")
        if await self.store.token_used(doc["_id"]):
            raise NotFound("this show code was used: make a fresh one", code="PRESENTATION_USED")
        if doc.get("state") != LIVE or now >= doc["exp"]:
            raise NotFound("this show code has expired: make a fresh one", code="PRESENTATION_EXPIRED")
        return _shown(doc)

    async def kept(self, token_id: str) -> dict | None:
        """The document of ``token_id``, None for a code this store never kept (made before codes
        were kept, or by hand, with the region's key)."""
        doc = await self.store.get_presentation(token_id)
        return doc if doc is not None and doc.get("region") == self.region else None

    @staticmethod
    def expired(doc: dict | None, now: int) -> bool:
        """Whether a code is past its ``exp`` and the grace (:data:`EXPIRY_GRACE`)."""
        return doc is not None and now >= doc["exp"] + EXPIRY_GRACE

    @staticmethod
    def refusal(doc: dict | None, purpose: str) -> str | None:
        """Why a code the holder limited to a purpose does not serve a check for ``purpose`` (the
        purpose judged for the caller), or None."""
        chosen = doc.get("purpose", "") if doc is not None else ""
        if not chosen or chosen == purpose:
            return None
        return f"the holder showed this code for {chosen}, not for {purpose}"

    async def sweep(self, now: int) -> int:
        """Drop the text of every code that has expired by ``now``, resolved or not; how many were
        dropped. The store gives the live codes that expire first first, :data:`SWEEP_BATCH` at a
        time: a look reads on until it meets a code still live."""
        dropped = 0
        while True:
            batch = await self.store.live_presentations(self.region, SWEEP_BATCH)
            ended = 0
            for doc in batch:
                if doc["exp"] > now:
                    return dropped + ended  # the rest are live
                ended += await self.store.end_presentation(doc["_id"], EXPIRED, now)
            dropped += ended
            if len(batch) < SWEEP_BATCH or not ended:  # all read, or none left to end: never spin
                return dropped

    async def keep_swept(self, now: Clock) -> None:
        """:meth:`sweep` every :data:`SWEEP_EVERY` seconds (a background task, off the request path);
        a failed look is logged and the next one takes up its codes."""
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                dropped = await self.sweep(now())
            except Exception as err:  # a store that is down now and then must not end the task
                log.warning("the show-code sweep of %s failed: %s", self.region, type(err).__name__)
                continue
            if dropped:
                log.info("%d expired show codes of %s dropped their text", dropped, self.region)
