"""The shared state store: open one by URI and use its :class:`Store` methods.

URIs: ``sqlite:///relative/path.db`` (relative to the working directory),
``sqlite:////absolute/path.db``, ``mongodb://...`` or ``mongodb+srv://...``
(database from the URI path, default ``ecert``).
"""

from __future__ import annotations

from ecert.errors import ConfigError
from ecert.store.base import COLLECTIONS, Store
from ecert.store.mongo import MongoBackend
from ecert.store.sqlite import SQLiteBackend

__all__ = ["COLLECTIONS", "Store", "open_store"]

_SQLITE_PREFIX = "sqlite:///"


async def open_store(uri: str) -> Store:
    """Open the store a URI names; ConfigError for an unsupported URI.

    StoreError if the store cannot be opened (a MongoDB server that does not
    answer within the server selection timeout).
    """
    if uri.startswith(_SQLITE_PREFIX) and len(uri) > len(_SQLITE_PREFIX):
        return Store(await SQLiteBackend.open(uri[len(_SQLITE_PREFIX):]))
    if uri.startswith(("mongodb://", "mongodb+srv://")):
        return Store(await MongoBackend.open(uri))
    raise ConfigError(f"unsupported store URI scheme {uri.partition(':')[0]!r}: use sqlite:///path.db "
                      "or mongodb://host/database", field="store")
