"""SQLite backend: one file shared safely by several processes.

Each collection is a table ``(id TEXT PRIMARY KEY, doc TEXT NOT NULL)`` of JSON
documents, with its declared indexes built on ``json_extract`` expressions. All
sqlite3 calls run on one dedicated worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ecert.errors import DuplicateKey, StoreError
from ecert.files import private_dirs
from ecert.store.base import (
    COLLECTIONS,
    RANGE_OPERATORS,
    check_collection,
    check_doc,
    check_field,
    check_filter,
    check_name,
    check_set,
    index_name,
    is_range,
)

BUSY_TIMEOUT_S = 10.0
"""How long a call waits for another connection's write lock."""

T = TypeVar("T")

_UPSERT = "INSERT INTO {coll}(id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc"
"""Insert or replace a document (``coll``: a checked collection name)."""


def _dump(value: Any) -> str:
    """Compact JSON text of a document or value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _expr(field: str) -> str:
    """The SQL expression for a field or a dotted path (identical in indexes and queries)."""
    return "id" if field == "_id" else f"json_extract(doc, '$.{check_field(field)}')"


_RANGE_TYPES = {str: "= 'text'", int: "IN ('integer', 'real')"}
"""The JSON types a range's bound compares with, by the bound's type."""


def _match(field: str, value: Any) -> tuple[str, list[Any]]:
    """SQL condition and parameters for one filter entry."""
    if is_range(value):
        ops = sorted(value.items())
        kinds = {type(bound) for _, bound in ops}
        sql = [f"{_expr(field)} {RANGE_OPERATORS[op]} ?" for op, _ in ops]
        # as MongoDB does, text only with text and numbers only with numbers (SQLite puts every
        # number before any text)
        if field == "_id":
            sql += ["0"] if int in kinds else []
        else:
            sql += [f"json_type(doc, '$.{field}') {_RANGE_TYPES[kind]}" for kind in sorted(kinds, key=str)]
        return " AND ".join(sql), [v for _, v in ops]
    if isinstance(value, dict):
        parts = [_match(field, v) for v in value["$in"]]
        if not parts:
            return "0", []
        return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]
    if value is None:
        return f"{_expr(field)} IS NULL", []
    if isinstance(value, bool):
        # JSON true/false read back as 1/0: compare the JSON type instead.
        return f"json_type(doc, '$.{field}') = '{str(value).lower()}'", []
    return f"{_expr(field)} = ?", [value]


def _where(filter: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """SQL WHERE condition and parameters for a filter (all entries must match)."""
    check_filter(filter)
    parts = [_match(field, value) for field, value in filter.items()]
    sql = " AND ".join(sql for sql, _ in parts) or "1"
    return sql, [p for _, ps in parts for p in ps]


def _projection(fields: tuple[str, ...]) -> str:
    """The SQL expression for a document reduced to ``_id`` and ``fields`` (top-level names): a small
    JSON object, so only that is read back and parsed (a missing field reads as null)."""
    pairs = "".join(f", '{check_name(f)}', json(doc -> '$.{f}')" for f in fields if f != "_id")
    return f"json_object('_id', id{pairs})"


def _make_private(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it (it holds holders' personal data):
    SQLite gives the -wal and -shm files it makes the database file's mode, whatever the umask.
    A file made earlier with a looser mode, and its -wal and -shm, are tightened."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if stat.S_IMODE(os.stat(p).st_mode) & 0o077:
                os.chmod(p, 0o600)
        except OSError:  # absent, or another user's file: nothing this process may change
            pass


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the database write lock up front."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SQLiteBackend:
    """A :class:`~ecert.store.base.Backend` over one SQLite file (WAL mode)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecert-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        # inserts waiting for the next commit: (coll, _id, doc text, future); a chain (insert_chain)
        # is (coll, None, (rows, head), future)
        self._pending: list[tuple[str, str | None, Any, asyncio.Future]] = []
        self._flushing = False

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteBackend:
        """Open (creating if needed) the database file, its folder and its tables."""
        backend = cls(path)
        try:
            await backend._run(backend._connect)
        except BaseException:
            await backend.close()
            raise
        return backend

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread, converting sqlite3 errors."""
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.IntegrityError as err:
            raise DuplicateKey(f"duplicate key: {err}") from err
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"SQLite store {self.path}: {err}") from err

    # -- worker thread ------------------------------------------------------

    def _connect(self) -> None:
        private_dirs(self.path.parent)  # each new folder 0700
        _make_private(self.path)
        self._conn = conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                            isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        with _immediate(conn):
            for coll, indexes in COLLECTIONS.items():
                conn.execute(f"CREATE TABLE IF NOT EXISTS {coll} "
                             "(id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
                for fields, unique in indexes:
                    conn.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS "
                                 f"{index_name(coll, fields)} "
                                 f"ON {coll}({', '.join(_expr(f) for f in fields)})")

    def _execute(self, sql: str, params: list[Any] | tuple[Any, ...]) -> int:
        """Run one statement; the number of rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def _query(self, sql: str, params: list[Any] | tuple[Any, ...]) -> list[tuple]:
        """Run one query; all its rows."""
        return self._conn.execute(sql, params).fetchall()

    def _next_seq(self, name: str, step: int) -> int:
        with _immediate(self._conn):
            (n,), = self._conn.execute(
                "INSERT INTO counters(id, doc) VALUES (?, json_object('_id', ?, 'n', ?)) "
                "ON CONFLICT(id) DO UPDATE SET doc = json_set(doc, '$.n', "
                "json_extract(doc, '$.n') + ?) RETURNING json_extract(doc, '$.n')",
                (name, name, step, step)).fetchall()
        return n

    def _increment(self, coll: str, rows: list[tuple[str, int, str]]) -> dict[str, int]:
        """Every row's increment in one transaction: (``_id``, step, the new document's JSON text)."""
        totals: dict[str, int] = {}
        with _immediate(self._conn):
            for _id, step, doc in rows:
                (n,), = self._conn.execute(
                    f"INSERT INTO {coll}(id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "doc = json_set(doc, '$.n', json_extract(doc, '$.n') + ?) RETURNING json_extract(doc, '$.n')",
                    (_id, doc, step)).fetchall()
                totals[_id] = n
        return totals

    def _insert_many(self, rows: list[tuple[str, str | None, Any]]) -> list[Exception | int | None]:
        """Group commit: many inserts in one transaction (one sync to disk); the error (or None) of
        each row, in order. A duplicate fails alone: a statement that breaks a constraint is undone
        by SQLite and the transaction goes on (no savepoint, whose journal would copy every page the
        rest of the transaction touches). A chain (``_id`` None) inserts its rows in order up to the
        first that collides and answers how many."""
        results: list[Exception | int | None] = []
        with _immediate(self._conn):
            for coll, _id, doc in rows:
                if _id is None:
                    results.append(self._chain(coll, *doc))
                    continue
                try:
                    self._conn.execute(f"INSERT INTO {coll}(id, doc) VALUES (?, ?)", (_id, doc))
                except sqlite3.IntegrityError as err:
                    results.append(DuplicateKey(f"duplicate key: {err}"))
                else:
                    results.append(None)
        return results

    def _chain(self, coll: str, rows: list[tuple[str, str]], head: tuple[str, str, str] | None) -> int:
        """Rows in order until one collides: the ones before it stay (each row is a statement of its
        own, and the one that collides is undone alone); with every row in, the head (coll, _id,
        doc) is put too, unless the stored one has a ``seq`` as high."""
        sql = f"INSERT INTO {coll}(id, doc) VALUES (?, ?)"
        before = self._conn.total_changes
        try:
            self._conn.executemany(sql, rows)  # the usual case: nothing collides
        except sqlite3.IntegrityError:
            pass
        n = self._conn.total_changes - before
        if n == len(rows) and head is not None:
            self._conn.execute(_UPSERT.format(coll=head[0]) + f" WHERE json_extract({head[0]}.doc, '$.seq') < "
                               "json_extract(excluded.doc, '$.seq')", head[1:])
        return n

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    # -- Backend ------------------------------------------------------------

    async def insert(self, coll: str, doc: dict) -> None:
        """Durable before it returns; concurrent inserts share one commit (group commit)."""
        check_doc(doc)
        await self._enqueue(check_collection(coll), doc["_id"], _dump(doc))

    async def insert_chain(self, coll: str, docs: list[dict], head: tuple[str, dict] | None = None, *,
                           texts: list[str] | None = None) -> int:
        """In the same group commit as concurrent inserts (``texts``: stored as they are)."""
        if not docs:
            return 0
        if texts is None:
            for doc in docs:
                check_doc(doc)
            rows = [(doc["_id"], _dump(doc)) for doc in docs]
        else:
            if len(texts) != len(docs):
                raise ValueError("one text per document")
            check_doc(docs[0])
            rows = [(doc["_id"], text) for doc, text in zip(docs, texts)]
        head_row = None
        if head is not None:
            check_doc(head[1])
            head_row = (check_collection(head[0]), head[1]["_id"], _dump(head[1]))
        return await self._enqueue(check_collection(coll), None, (rows, head_row))

    async def _enqueue(self, coll: str, _id: str | None, doc: Any) -> Any:
        if self._closed:
            raise StoreError("the store is closed")
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((coll, _id, doc, fut))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        """Commit what is pending; inserts arriving meanwhile go into the next commit."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._run(self._insert_many, [row[:3] for row in batch])
                except Exception as err:  # the whole commit failed: every waiter hears it
                    results = [err] * len(batch)
                for (*_, fut), err in zip(batch, results):
                    if fut.done():
                        continue
                    if isinstance(err, Exception):
                        fut.set_exception(err)
                    else:
                        fut.set_result(err)  # None (a row in), or how many rows of a chain
        finally:
            self._flushing = False

    async def get(self, coll: str, _id: str) -> dict | None:
        rows = await self._run(self._query, f"SELECT doc FROM {check_collection(coll)} "
                               "WHERE id = ?", (_id,))
        return json.loads(rows[0][0]) if rows else None

    async def exists(self, coll: str, _id: str) -> bool:
        return bool(await self._run(self._query, f"SELECT 1 FROM {check_collection(coll)} WHERE id = ?", (_id,)))

    async def find(self, coll: str, filter: dict, *, sort: str | None = None,
                   descending: bool = False, limit: int | None = None,
                   fields: tuple[str, ...] | None = None) -> list[dict]:
        where, params = _where(filter)
        what = "doc" if fields is None else _projection(fields)
        sql = f"SELECT {what} FROM {check_collection(coll)} WHERE {where}"
        if sort is not None:
            order = "DESC" if descending else "ASC"
            sql += f" ORDER BY {_expr(sort)} {order}" + (f", id {order}" if sort != "_id" else "")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [json.loads(doc) for doc, in await self._run(self._query, sql, params)]

    async def update(self, coll: str, _id: str, set: dict, *, expect: dict | None = None) -> bool:
        check_set(set)
        where, params = _where(expect or {})
        pairs = ", ".join(f"'$.{field}', json(?)" for field in set)
        sql = (f"UPDATE {check_collection(coll)} SET doc = json_set(doc, {pairs}) "
               f"WHERE id = ? AND {where}")
        return await self._run(self._execute, sql,
                               [_dump(v) for v in set.values()] + [_id] + params) == 1

    async def put(self, coll: str, doc: dict) -> None:
        check_doc(doc)
        await self._run(self._execute, _UPSERT.format(coll=check_collection(coll)), (doc["_id"], _dump(doc)))

    async def next_seq(self, name: str, step: int = 1) -> int:
        return await self._run(self._next_seq, name, step)

    async def increment(self, coll: str, steps: Mapping[str, int],
                        init: Mapping[str, dict] | None = None) -> dict[str, int]:
        check_collection(coll)
        rows = []
        for _id, step in steps.items():
            doc = {**(init or {}).get(_id, {}), "_id": _id, "n": step}
            check_doc(doc)
            if type(step) is not int:
                raise ValueError(f"a step is an int, not {step!r}")
            rows.append((_id, step, _dump(doc)))
        return await self._run(self._increment, coll, rows) if rows else {}

    async def delete(self, coll: str, filter: dict) -> int:
        where, params = _where(filter)
        return await self._run(self._execute, f"DELETE FROM {check_collection(coll)} WHERE {where}", params)

    async def ping(self) -> None:
        await self._run(self._query, "SELECT 1", ())

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self._run(self._close)
        finally:
            self._closed = True
            self._executor.shutdown(wait=False)
