"""What every ``ecert`` command shares: the error that ends it with an exit code, reading its
input files, the gateway client made from its options, the store it finds, and printing an
answer as text or (``--json``) as the gateway's JSON.

Exit codes (:data:`OK`, :data:`NOT_VALID`, :data:`USAGE`, :data:`COULD_NOT_ASK`): 0 done (``verify``:
VALID); 1 asked and answered "not valid" (``verify``: any other result; ``audit verify``: a broken
chain); 2 a usage or input mistake, including a request the gateway judged wrong (400, 404, 409,
413, 415, 422); 3 could not ask: the key was refused (401, 403), a quota is used up (429), the
suite failed (5xx), or nothing answered (network, timeout, not a gateway).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ecert import client as gw
from ecert.store import default_uri

OK, NOT_VALID, USAGE, COULD_NOT_ASK = 0, 1, 2, 3
DEFAULT_URL = gw.DEFAULT_URL
DEFAULT_STORE = default_uri("var")
TIMEOUT = gw.DEFAULT_TIMEOUT
"""Seconds each call may take."""
BACKOFF = gw.BACKOFF
"""Seconds before an issuance is sent again after a timeout (doubled each time)."""


class CliError(Exception):
    """Ends the command with ``status`` and ``message`` on one line of standard error (and, with
    ``--json``, ``error`` as JSON on standard output)."""

    def __init__(self, message: str, status: int = COULD_NOT_ASK, error: dict | None = None):
        super().__init__(" ".join(str(message).split()))  # one line, whatever the message held
        self.status = status
        self.error = error or {"code": "USAGE" if status == USAGE else "CLIENT_ERROR", "message": str(self)}


def from_client_error(err: gw.ClientError, hint: str = "") -> CliError:
    """The exit code and message of a call that failed (module docstring)."""
    if isinstance(err, gw.ApiError):
        error = {"status": err.status, "code": err.code, "message": err.message, "request_id": err.request_id}
        if err.fields:
            error["fields"] = err.fields
        if err.errors:
            error["errors"] = err.errors
        text = str(err)
        if len(err.errors) > 1:  # every failure, on the one line
            text += " [" + "; ".join(f"{e.get('field', '')}: {e.get('message', e.get('code', ''))}"
                                     for e in err.errors) + "]"
        if err.retry_after is not None and err.status == 429:
            text += f" (retry after {err.retry_after:g} s)"
        return CliError(text + hint, COULD_NOT_ASK if err.could_not_ask else USAGE, error)
    if isinstance(err, gw.BadInput):
        return CliError(str(err), USAGE)
    if isinstance(err, gw.Unreachable) and "connection refused" in err.reason:
        hint = (". Is the suite running? Start it with `make run`, or point --url / ECERT_URL at it." + hint)
    return CliError(f"{err}{hint}", COULD_NOT_ASK, {"code": "UNREACHABLE" if isinstance(err, gw.Unreachable)
                                                    else "BAD_ANSWER", "message": str(err)})


# -- input ---------------------------------------------------------------------------------------

def _why(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, IsADirectoryError):
        return "it is a folder"
    if isinstance(err, PermissionError):
        return "permission denied"
    return (err.strerror or str(err)).lower()


def read_text(name: str) -> str:
    """A file's text (UTF-8), or standard input for ``-``."""
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as err:
        raise CliError(f"cannot read {name}: {_why(err)}", USAGE) from err
    except UnicodeDecodeError as err:
        raise CliError(f"cannot read {name}: it is not UTF-8 text (byte {err.start})", USAGE) from err


def read_bytes(name: str, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a file (the caller says what a larger one is)."""
    try:
        with Path(name).open("rb") as fh:
            return fh.read(limit + 1)
    except OSError as err:
        raise CliError(f"cannot read {name}: {_why(err)}", USAGE) from err


def read_json_object(name: str, what: str) -> dict:
    """A file (or ``-``) holding one JSON object; anything else is a one-line usage error."""
    text = read_text(name)
    where = "standard input" if name == "-" else name
    try:
        data = json.loads(text)
    except ValueError as err:
        detail = f"{err.msg} at line {err.lineno}, column {err.colno}" if isinstance(err, json.JSONDecodeError) else err
        raise CliError(f"{where} is not valid JSON ({what}): {detail}", USAGE) from err
    if not isinstance(data, dict):
        raise CliError(f"{where} must hold a JSON object ({what}), not {type(data).__name__}", USAGE)
    return data


# -- the gateway ---------------------------------------------------------------------------------

def api_key(args) -> str:
    key = getattr(args, "key", None) or os.environ.get("ECERT_API_KEY")
    if not key:
        raise CliError("an API key is needed: give --key KEY or set ECERT_API_KEY "
                       "(the first one: ecert apikey create --role admin --store URI)", USAGE)
    return key


def _language(args) -> str | None:
    """``--lang``, else the locale's language when it is one the gateway speaks (zh, en)."""
    if getattr(args, "lang", None):
        return args.lang
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            lang = value.split(".")[0].replace("_", "-")
            return lang if lang.split("-")[0].lower() in ("zh", "en") else None
    return None


def client(args, timeout: float | None = None) -> gw.Client:
    """The gateway client of a command's ``--url`` (else $ECERT_URL), ``--key`` (else
    $ECERT_API_KEY; needed) and ``--lang``."""
    url = getattr(args, "url", None) or os.environ.get("ECERT_URL") or DEFAULT_URL
    try:
        return gw.Client(url, api_key(args), timeout=TIMEOUT if timeout is None else timeout,
                         language=_language(args), backoff=BACKOFF)
    except gw.BadInput as err:
        raise CliError(str(err), USAGE) from err


def gateway_options(p: argparse.ArgumentParser, json_help: str = "print the gateway's JSON answer") -> None:
    p.add_argument("--url", help=f"gateway URL (default: $ECERT_URL or {DEFAULT_URL})")
    p.add_argument("--key", help="API key (default: $ECERT_API_KEY)")
    p.add_argument("--lang", help="language of the gateway's messages, e.g. zh-CN or en (default: the locale's)")
    p.add_argument("--json", action="store_true", help=json_help)


# -- the store -----------------------------------------------------------------------------------

def store_uri(args) -> str:
    """The store the running suite uses: ``--store``, else ``ECERT_STORE_URI``, else
    :data:`DEFAULT_STORE`; a SQLite file that is not there is a usage mistake (exit 2)."""
    uri = args.store or os.environ.get("ECERT_STORE_URI") or DEFAULT_STORE
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            raise CliError(f"no store at {path} (from {uri}): start the suite first (`make run`) "
                           "or give the running suite's store with --store URI", USAGE)
    return uri


# -- output --------------------------------------------------------------------------------------

def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def table(rows: list[list[str]], header: list[str]) -> None:
    """Rows in aligned columns under ``header``."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(f"{str(v):<{w}}" for v, w in zip(r, widths)).rstrip())

