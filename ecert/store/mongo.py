"""MongoDB backend over pymongo's async client.

The database is named by the URI path (default ``ecert``); the declared indexes
are created on open. A unique index only covers documents whose indexed fields
are all strings, like SQLite, where NULLs never collide.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
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
    check_name,
    check_set,
    index_name,
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
                                                     name=index_name(coll, fields),
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

    async def exists(self, coll: str, _id: str) -> bool:
        with _errors():
            return await self._coll(coll).find_one({"_id": _id}, projection={"_id": 1}) is not None

    async def find(self, coll: str, filter: dict, *, sort: str | None = None,
                   descending: bool = False, limit: int | None = None,
                   fields: tuple[str, ...] | None = None) -> list[dict]:
        check_filter(filter)
        projection = None if fields is None else {"_id": 1, **{check_name(f): 1 for f in fields}}  # {}: every field
        if limit is not None and limit <= 0:
            return []  # MongoDB reads limit 0 as "no limit"
        order = []
        if sort is not None:
            direction = DESCENDING if descending else ASCENDING
            order = [(check_field(sort), direction)] + ([("_id", direction)] if sort != "_id" else [])
        with _errors():
            cursor = self._coll(coll).find(filter, projection, sort=order or None, limit=limit or 0)
            docs = await cursor.to_list()
        if fields is not None:  # as SQLite answers: every field named, None where missing
            docs = [{"_id": d["_id"], **{f: d.get(f) for f in fields}} for d in docs]
        return docs

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
        """An ordered ``insert_many`` (it stops at the first collision), then the head, forward only
        (``texts`` unused). Two writes, not one transaction (a standalone server has none): a crash
        between them leaves the head behind the chain until the next append."""
        for doc in docs:
            check_doc(doc)
        if not docs:
            return 0
        if head is not None:
            check_doc(head[1])
        try:
            await self._coll(coll).insert_many([dict(doc) for doc in docs], ordered=True)
            n = len(docs)
        except BulkWriteError as err:  # a write error or a write concern error (not durable)
            details = err.details
            errors = [*details.get("writeErrors", ()), *details.get("writeConcernErrors", ())]
            if details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise StoreError("MongoDB store: a chain's write failed: "
                                 + "; ".join(str(e.get("errmsg", e.get("code"))) for e in errors)) from err
            n = details.get("nInserted", 0)
        except PyMongoError as err:
            raise StoreError(f"MongoDB store: {err}") from err
        if n == len(docs) and head is not None:
            await self._advance(*head)
        return n

    async def _advance(self, coll: str, head: dict) -> None:
        """Put ``head`` unless the stored one with its ``_id`` has a ``seq`` as high already (of two
        appenders, the later head stays)."""
        fields = {name: value for name, value in head.items() if name != "_id"}
        try:
            with _errors():
                await self._coll(coll).update_one({"_id": head["_id"], "seq": {"$lt": head["seq"]}},
                                                  {"$set": fields}, upsert=True)
        except DuplicateKey:  # the upsert met the stored head: it is as new or newer
            pass

    async def next_seq(self, name: str, step: int = 1) -> int:
        with _errors():
            doc = await self.db["counters"].find_one_and_update(
                {"_id": name}, {"$inc": {"n": step}}, upsert=True,
                return_document=ReturnDocument.AFTER)
        return doc["n"]

    async def increment(self, coll: str, steps: Mapping[str, int],
                        init: Mapping[str, dict] | None = None) -> dict[str, int]:
        """One unordered bulk write of ``$inc`` upserts, then one read of the totals. Two upserts of
        a new document racing may meet its unique ``_id``: the loser is sent again (it then finds it)."""
        ops = []
        for _id, step in steps.items():
            fields = {k: v for k, v in (init or {}).get(_id, {}).items() if k not in ("_id", "n")}
            check_doc({"_id": _id, **fields})
            if type(step) is not int:
                raise ValueError(f"a step is an int, not {step!r}")
            ops.append(UpdateOne({"_id": _id}, {"$inc": {"n": step}, **({"$setOnInsert": fields} if fields else {})},
                                 upsert=True))
        if not ops:
            return {}
        collection = self._coll(coll)
        try:
            await collection.bulk_write(ops, ordered=False)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors", ())
            if err.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise StoreError(f"MongoDB store: an increment failed: {err}") from err
            with _errors():
                await collection.bulk_write([ops[e["index"]] for e in errors], ordered=False)
        except PyMongoError as err:
            raise StoreError(f"MongoDB store: {err}") from err
        with _errors():
            docs = await collection.find({"_id": {"$in": list(steps)}}, {"n": 1}).to_list()
        return {d["_id"]: int(d["n"]) for d in docs}

    async def delete(self, coll: str, filter: dict) -> int:
        check_filter(filter)
        with _errors():
            return (await self._coll(coll).delete_many(filter)).deleted_count

    async def ping(self) -> None:
        with _errors():
            await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
