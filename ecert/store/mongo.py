"""MongoDB backend over pymongo's async client.

The database is named by the URI path (default ``ecert``); the declared indexes
are created on open. A unique index only covers documents whose indexed fields
are all strings, like SQLite, where NULLs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConfigurationError, DuplicateKeyError, PyMongoError

from ecert.errors import ConfigError, DuplicateKey, StoreError
from ecert.store.base import (
    COLLECTIONS,
    check_collection,
    check_doc,
    check_field,
    check_filter,
    check_set,
)

DEFAULT_DATABASE = "ecert"
DUPLICATE_KEY = 11000
"""MongoDB's error code for a duplicate key."""
SERVER_SELECTION_TIMEOUT_MS = 5000
"""How long a call waits for a reachable server before raising StoreError."""


@contextmanager
def _errors() -> Iterator[None]:
    """Convert pymongo errors to the store's errors."""
    try:
        yield
    except DuplicateKeyError as err:
        raise DuplicateKey(f"duplicate key: {err}") from err
    except PyMongoError as err:
        raise StoreError(f"MongoDB store: {err}") from err


class MongoBackend:
    """A :class:`~ecert.store.base.Backend` over one MongoDB database."""

    def __init__(self, client: AsyncMongoClient, db: AsyncDatabase):
        self.client = client
        self.db = db

    @classmethod
    async def open(cls, uri: str, *,
                   timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS) -> MongoBackend:
        """Connect and create the declared indexes (StoreError if no server answers)."""
        try:
            # Writes are acknowledged once journaled on a majority: an answer means the data is durable.
            client: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=timeout_ms,
                                                        w="majority", journal=True)
            db = client.get_default_database(DEFAULT_DATABASE)
        except ConfigurationError as err:
            raise ConfigError(f"invalid MongoDB URI: {err}", field="store") from err
        backend = cls(client, db)
        try:
            await backend._create_indexes()
        except BaseException:
            await client.close()
            raise
        return backend

    async def _create_indexes(self) -> None:
        with _errors():
            for coll, indexes in COLLECTIONS.items():
                for fields, unique in indexes:
                    strings = {f: {"$type": "string"} for f in fields}
                    options = {"partialFilterExpression": strings} if unique else {}
                    await self.db[coll].create_index([(f, ASCENDING) for f in fields],
                                                     name=f"{coll}_{'_'.join(fields)}",
                                                     unique=unique, **options)

    def _coll(self, coll: str) -> AsyncCollection:
        return self.db[check_collection(coll)]

    async def insert(self, coll: str, doc: dict) -> None:
        check_doc(doc)
        with _errors():
            await self._coll(coll).insert_one(doc)

    async def get(self, coll: str, _id: str) -> dict | None:
        with _errors():
            return await self._coll(coll).find_one({"_id": _id})

    async def find(self, coll: str, filter: dict, *, sort: str | None = None,
                   descending: bool = False, limit: int | None = None) -> list[dict]:
        check_filter(filter)
        if limit is not None and limit <= 0:
            return []  # MongoDB reads limit 0 as "no limit"
        order = []
        if sort is not None:
            direction = DESCENDING if descending else ASCENDING
            order = [(check_field(sort), direction)] + ([("_id", direction)] if sort != "_id" else [])
        with _errors():
            cursor = self._coll(coll).find(filter, sort=order or None, limit=limit or 0)
            return await cursor.to_list()

    async def update(self, coll: str, _id: str, set: dict, *, expect: dict | None = None) -> bool:
        check_set(set)
        check_filter(expect or {})
        with _errors():
            result = await self._coll(coll).update_one({**(expect or {}), "_id": _id},
                                                       {"$set": set})
        return result.matched_count == 1

    async def put(self, coll: str, doc: dict) -> None:
        check_doc(doc)
        with _errors():
            await self._coll(coll).replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def insert_chain(self, coll: str, docs: list[dict], head: tuple[str, dict] | None = None, *,
                           texts: list[str] | None = None) -> int:
        """An ordered ``insert_many`` (it stops at the first collision), then the head (``texts`` unused)."""
        for doc in docs:
            check_doc(doc)
        if not docs:
            return 0
        if head is not None:
            check_doc(head[1])
        try:
            with _errors():
                await self._coll(coll).insert_many([dict(doc) for doc in docs], ordered=True)
            n = len(docs)
        except StoreError as err:
            cause = err.__cause__
            if not isinstance(cause, BulkWriteError):
                raise
            if any(e.get("code") != DUPLICATE_KEY for e in cause.details.get("writeErrors", ())):
                raise
            n = cause.details.get("nInserted", 0)
        if n == len(docs) and head is not None:
            with _errors():
                await self._coll(head[0]).replace_one({"_id": head[1]["_id"]}, head[1], upsert=True)
        return n

    async def next_seq(self, name: str, step: int = 1) -> int:
        with _errors():
            doc = await self.db["counters"].find_one_and_update(
                {"_id": name}, {"$inc": {"n": step}}, upsert=True,
                return_document=ReturnDocument.AFTER)
        return doc["n"]

    async def ping(self) -> None:
        with _errors():
            await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
