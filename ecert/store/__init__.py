"""The shared state store: open one by URI and use its :class:`Store` methods.

URIs: ``sqlite:///relative/path.db`` (relative to the working directory),
``sqlite:////absolute/path.db``, ``mongodb://...`` or ``mongodb+srv://...``
(database from the URI path, default ``ecert``). :func:`default_uri` is the default store.
"""

from __future__ import annotations

from pathlib import Path

from ecert.errors import ConfigError
from ecert.store.base import COLLECTIONS, Store

__all__ = ["COLLECTIONS", "Store", "default_uri", "open_store"]

_SQLITE_PREFIX = "sqlite:///"


def default_uri(var_dir: str | Path) -> str:
    """The embedded default: a SQLite file in the var folder."""
    return f"{_SQLITE_PREFIX}{Path(var_dir) / 'ecert.db'}"


async def open_store(uri: str) -> Store:
    """Open the store a URI names; ConfigError for an unsupported URI.

    StoreError if the store cannot be opened (a MongoDB server that does not
    answer within the server selection timeout).
    """
    if uri.startswith(_SQLITE_PREFIX) and len(uri) > len(_SQLITE_PREFIX):
        from ecert.store.sqlite import SQLiteBackend
        return Store(await SQLiteBackend.open(uri[len(_SQLITE_PREFIX):]))
    if uri.startswith(("mongodb://", "mongodb+srv://")):
        from ecert.store.mongo import (
            MongoBackend,  # pymongo is imported only by those who use it
        )
        return Store(await MongoBackend.open(uri))
    raise ConfigError(f"unsupported store URI scheme {uri.partition(':')[0]!r}: use sqlite:///path.db "
                      "or mongodb://host/database", field="store")
