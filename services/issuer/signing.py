"""Which key the region signs with, and when that changes.

Before every signature (a credential, a show code, a status list) the issuer asks :meth:`Signer.key`
for its current key, checked against what the registry last said of it: active, and inside its
window (``nbf <= now < exp``). A key the registry says is revoked, retired or expired never signs:
it is replaced by a new one (``ECERT_KEY_AUTO_ROTATE``) or signing stops with 503
``SIGNING_KEY_UNAVAILABLE``, so no credential is made that cannot verify. While nothing is known
of the key (the registry not reached since the start), it signs.

A rotation makes a key, registers it (``nbf`` now, ``exp`` two lifetimes later), switches to it
and then retires the old one at the registry, which ends the old key's window a few minutes later
(what it signed before still verifies). A retirement that fails is made again at the next refresh:
every key of the keyring that is not the current one and that the registry still holds active is
retired then. Rotations come from an admin or the region's agency (:meth:`Signer.rotate`), from the
key's age (``ECERT_KEY_LIFETIME_DAYS``, :meth:`Signer.rotate_if_due`) and from a key that may no
longer sign.

Plain Python over the keyring, the registry port and the clocks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from ecert.clock import Clock
from ecert.errors import Conflict, EcertError, NotFound, Unavailable
from ecert.format import keys
from ecert.vocab import KeyStatus

from .keyring import Keyring

log = logging.getLogger("ecert.issuer")

DAY = 86400
KEYS_REFRESH = 10.0
"""Seconds between the background look-ups of the region's keys at the registry."""
ROTATE_RETRY = 5.0
"""Seconds after a failed automatic rotation during which signing answers 503 at once rather than
trying again (a registry that is down is not asked on every request)."""
FOREVER = 1 << 62
"""The end of a window the registry set and the issuer has not read back yet."""


class RegionKey(NamedTuple):
    """One of the region's keys as the registry holds it."""

    kid: str  # hex
    status: str  # active | retired | revoked
    nbf: int
    exp: int


class KeyInfo(NamedTuple):
    """The key signing now: its kid (``""``: none can sign), the kid it replaced (``""``: none), its
    window and its status at the registry (``""``: not known)."""

    kid: str
    retired_kid: str
    nbf: int
    exp: int
    status: str


class KeyPort(Protocol):
    """What the signer asks of the registry, for its own region."""

    async def register_key(self, alg: str, spki: bytes, nbf: int = 0, exp: int = 0) -> str:
        """Register the public key (``nbf``/``exp`` 0: the registry's defaults); returns its kid."""

    async def retire_key(self, kid: str) -> None:
        """Retire the region's key ``kid`` (its window ends a few minutes later)."""

    async def region_keys(self) -> list[RegionKey]:
        """The region's keys, as the registry lists them."""


class Signer:
    """The region's current signing key, kept usable."""

    def __init__(self, keyring: Keyring, registry: KeyPort, *, lifetime_days: int = 365, auto_rotate: bool = True,
                 now: Clock, monotonic: Callable[[], float] = time.monotonic):
        self.keyring = keyring
        self.registry = registry
        self.lifetime = lifetime_days * DAY  # 0: never rotated for its age
        self.auto_rotate = auto_rotate
        self.now = now
        self.monotonic = monotonic
        self.view: dict[str, RegionKey] | None = None  # the registry's, by kid; None: never read
        self._lock = asyncio.Lock()
        self._pending: keys.Signer | None = None  # made, not registered yet (tried again first)
        self._failed_at: float | None = None

    # -- the key that signs ------------------------------------------------------------------
    def problem(self, kid: str) -> str | None:
        """Why the key ``kid`` may not sign now (``"revoked"``, ``"retired"``, ``"expired"``, ``"not
        yet valid"``), or None: it may (or nothing is known of it)."""
        entry = None if self.view is None else self.view.get(kid)
        if entry is None:
            return None
        if entry.status != KeyStatus.ACTIVE:
            return entry.status
        now = self.now()
        if now < entry.nbf:
            return "not yet valid"
        if now >= entry.exp:
            return "expired"
        return None

    async def key(self, *, patient: bool = False) -> keys.Signer:
        """The key to sign with now; a key that may not sign is replaced first (policy allowing),
        else 503 ``SIGNING_KEY_UNAVAILABLE``. ``patient``: try a replacement even if one failed
        moments ago."""
        key = self.keyring.current
        if self.view is None or self.problem(self.keyring.current_kid) is None:
            return key
        async with self._lock:
            if self.problem(self.keyring.current_kid) is not None:  # not replaced meanwhile in this process
                self.keyring.reload()  # perhaps by another process of the region
            kid, why = self.keyring.current_kid, self.problem(self.keyring.current_kid)
            if why is None:
                return self.keyring.current
            if not self.auto_rotate:
                raise Unavailable(f"the signing key {kid} is {why}: rotate it", code="SIGNING_KEY_UNAVAILABLE")
            if not patient and self._failed_at is not None and self.monotonic() - self._failed_at < ROTATE_RETRY:
                raise Unavailable(f"the signing key {kid} is {why} and could not be replaced yet",
                                  code="SIGNING_KEY_UNAVAILABLE")
            try:
                await self._rotate_locked(f"the key was {why}")
            except (EcertError, OSError) as err:  # the registry, or the keyring's folder
                self._failed_at = self.monotonic()
                log.warning("signing key %s is %s and could not be replaced: %s", kid, why, err)
                raise Unavailable(f"the signing key {kid} is {why} and could not be replaced: "
                                  f"{getattr(err, 'message', type(err).__name__)}",
                                  code="SIGNING_KEY_UNAVAILABLE") from err
            return self.keyring.current

    def info(self, *, retired_kid: str = "", can_sign: bool = True) -> KeyInfo:
        """The current key as :class:`KeyInfo` (``can_sign`` False: its kid is ``""``)."""
        kid = self.keyring.current_kid
        entry = None if self.view is None else self.view.get(kid)
        if entry is None:
            return KeyInfo(kid if can_sign else "", retired_kid, 0, 0, "")
        return KeyInfo(kid if can_sign else "", retired_kid, entry.nbf, entry.exp, entry.status)

    # -- registration ------------------------------------------------------------------------
    def registration(self) -> tuple[int, int]:
        """The window the current key is registered with when the registry does not know it yet:
        from when it was made (what it signed since verifies) to two lifetimes from now (``exp``
        0 when keys never age: the registry's default)."""
        now = self.now()
        made = self.keyring.made_at(self.keyring.current_kid)
        return min(now, made if made is not None else now), (now + 2 * self.lifetime if self.lifetime else 0)

    # -- learning the registry's view --------------------------------------------------------
    async def learn(self) -> None:
        """Read the region's keys at the registry (Unavailable when it cannot be reached); take up
        a key another process of the region switched to; register the current key if the
        registry lacks it; retire the keys left active by a rotation whose retirement failed."""
        entries = await self.registry.region_keys()
        async with self._lock:
            self.view = {e.kid: e for e in entries}
            self.keyring.reload()
            await self._register_missing()
            await self._sweep()

    async def refresh(self) -> KeyInfo:
        """:meth:`learn`, then the current key replaced if it may not sign (policy allowing): the
        key signing from now on (kid ``""``: none can) and the one it replaced."""
        await self.learn()
        before = self.keyring.current_kid
        try:
            key = await self.key(patient=True)
        except Unavailable:
            return self.info(can_sign=False)
        return self.info(retired_kid=before if key.kid.hex() != before else "")

    async def _register_missing(self) -> None:
        kid = self.keyring.current_kid
        if self.view is None or kid in self.view:
            return
        nbf, exp = self.registration()
        key = self.keyring.current
        try:
            await self.registry.register_key(keys.ALG_NAMES[key.alg], key.spki, nbf, exp)
        except EcertError as err:
            log.warning("signing key %s is not registered and could not be: %s", kid, err)
            return
        self.view[kid] = RegionKey(kid, KeyStatus.ACTIVE, nbf, exp or FOREVER)
        log.info("signing key %s registered", kid)

    async def _sweep(self) -> None:
        assert self.view is not None
        pending = self._pending.kid.hex() if self._pending is not None else ""
        for kid in self.keyring.kids():
            entry = self.view.get(kid)
            if kid not in (self.keyring.current_kid, pending) and entry is not None \
                    and entry.status == KeyStatus.ACTIVE:
                await self._retire(kid)

    # -- rotation ----------------------------------------------------------------------------
    async def rotate(self, request_id: str = "", reason: str = "asked for") -> KeyInfo:
        """A new key signs from now on; the old one is retired. The same ``request_id`` again
        answers the first rotation (in every process of the region)."""
        async with self._lock:
            return await self._rotate_locked(reason, request_id)

    async def rotate_if_due(self) -> KeyInfo | None:
        """Rotate if the current key is older (by its registered ``nbf``) than the lifetime."""
        if not self._due():
            return None
        async with self._lock:
            self.keyring.reload()  # another process of the region may have rotated already
            if not self._due():
                return None
            return await self._rotate_locked("scheduled: the key's lifetime has passed")

    def _due(self) -> bool:
        entry = None if self.view is None else self.view.get(self.keyring.current_kid)
        return bool(self.lifetime) and entry is not None and self.now() >= entry.nbf + self.lifetime

    async def _rotate_locked(self, reason: str, request_id: str = "") -> KeyInfo:
        async with self.keyring.exclusive():
            if request_id:
                done = self.keyring.rotation(request_id)
                if done is not None:
                    return KeyInfo(*(done[f] for f in KeyInfo._fields))
            self.keyring.reload()
            old = self.keyring.current_kid
            new = self._pending or self.keyring.create()
            self._pending = new
            nbf = self.now()
            exp = nbf + 2 * self.lifetime if self.lifetime else 0
            await self.registry.register_key(keys.ALG_NAMES[new.alg], new.spki, nbf, exp)
            self._pending = None
            self.keyring.switch(new)
            kid = new.kid.hex()
            self._note(RegionKey(kid, KeyStatus.ACTIVE, nbf, exp or FOREVER))
            info = KeyInfo(kid, old, nbf, exp or FOREVER, str(KeyStatus.ACTIVE))
            if request_id:
                self.keyring.record_rotation(request_id, {**info._asdict(), "at": nbf})
            log.info("signing key %s replaces %s (%s)", kid, old, reason)
        self._failed_at = None
        await self._retire(old)
        await self._reread()
        return info if self.view is None or kid not in self.view else info._replace(exp=self.view[kid].exp)

    async def _retire(self, kid: str) -> None:
        try:
            await self.registry.retire_key(kid)
        except (Conflict, NotFound):  # revoked (final), or never registered: nothing to retire
            return
        except EcertError as err:
            log.warning("signing key %s is not retired yet (retried at the next refresh): %s", kid, err)
            return
        entry = None if self.view is None else self.view.get(kid)
        if entry is not None:
            self._note(entry._replace(status=str(KeyStatus.RETIRED)))
        log.info("signing key %s retired", kid)

    async def _reread(self) -> None:
        """The registry's view again, best effort (the windows it set)."""
        try:
            self.view = {e.kid: e for e in await self.registry.region_keys()}
        except EcertError:
            pass

    def _note(self, entry: RegionKey) -> None:
        if self.view is None:
            self.view = {}
        self.view[entry.kid] = entry

    # -- the background task -----------------------------------------------------------------
    async def tend(self) -> None:
        """One round of :meth:`run`: learn, replace a key that may not sign, rotate one past its
        lifetime. Never raises (logged: the next round tries again), so the task never ends."""
        try:
            await self.learn()
            await self.key()
            await self.rotate_if_due()
        except EcertError as err:
            log.warning("signing keys: %s", err)
        except Exception as err:  # a keyring folder that cannot be written, say: the task goes on
            log.warning("signing keys: %s: %s", type(err).__name__, err)

    async def run(self, every: float = KEYS_REFRESH, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                  rng: random.Random | None = None) -> None:
        """:meth:`tend` every ``every`` seconds (± 10 %) until cancelled."""
        rng = rng or random.Random()
        while True:
            await sleep(every * rng.uniform(0.9, 1.1))
            await self.tend()
