"""The ``ecert`` command: API keys, issuing, verifying, QR codes and the recognition rules from the terminal.

    ecert apikey create --role ROLE [--region CODE] [--org NAME] [--label TEXT] [--store URI]
    ecert issue --region CODE --type TYPE --fields FILE.json|- [--version N] [--valid-days N] [--request-id ID]
    ecert verify (TEXT | --file FILE | -) [--purpose TEXT] [--json]
    ecert present ID [--purpose PURPOSE] [--no-qr] [--json]
    ecert photo upload FILE [--region CODE] [--json]
    ecert photo get DIGEST --out FILE [--credential ID] [--region CODE] [--purpose PURPOSE]
    ecert qr TEXT
    ecert audit verify --region CODE [--store URI]
    ecert type publish FILE.json
    ecert rules show [--json]
    ecert rules set-types PURPOSE (TYPE... | --none)
    ecert rules set-recognition (REGION | '*') (REGION... | --none)

``apikey create`` writes straight into the store the running suite uses (``--store``, else
``ECERT_STORE_URI``, else ``sqlite:///var/ecert.db`` relative to the working directory). The other
commands talk to the gateway over HTTP (``--url``, else ``ECERT_URL``, else http://127.0.0.1:8080)
with an API key (``--key``, else ``ECERT_API_KEY``).

Exit codes: 0 success (``verify``: the credential is VALID; ``audit verify``: the chain is intact); 1 the
gateway refused or could not be reached (``verify``: any other result; ``audit verify``: an entry was
altered, removed or moved); 2 a usage or input mistake. ``audit verify`` reads the store, as ``apikey create``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ecert.store import default_uri

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_STORE = default_uri("var")
TIMEOUT = 30.0


class CliError(Exception):
    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


# -- input helpers -------------------------------------------------------------------------------

def _read_text(name: str) -> str:
    """A file's text, or standard input for ``-``."""
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"cannot read {name}: {err}", 2) from err


def _read_json_object(name: str, what: str) -> dict:
    text = _read_text(name)
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CliError(f"{name if name != '-' else 'standard input'} is not valid JSON ({what}): {err}", 2) from err
    if not isinstance(data, dict):
        raise CliError(f"{name if name != '-' else 'standard input'} must hold a JSON object ({what})", 2)
    return data


# -- HTTP ----------------------------------------------------------------------------------------

def _api_key(args) -> str:
    key = args.key or os.environ.get("ECERT_API_KEY")
    if not key:
        raise CliError("an API key is needed: give --key KEY or set ECERT_API_KEY "
                       "(make one with: ecert apikey create --role ROLE)", 2)
    return key


def call(method: str, url: str, key: str | None, data: bytes | None = None, content_type: str | None = None,
         accept: str = "application/json", timeout: float = TIMEOUT) -> tuple[bytes, int]:
    """One call to the gateway: the answer's body and status (2xx). A refusal, no answer in
    ``timeout`` seconds or a bad URL is a :class:`CliError` with a readable message."""
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    if key:
        headers["Authorization"] = f"Bearer {key}"
    base = url.split("/v1/", 1)[0]
    try:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raise CliError(_error_message(err.code, err.read())) from err
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, ConnectionRefusedError):
            raise CliError(f"cannot reach the gateway at {base}: connection refused. Is the suite running? "
                           "Start it with `make run`, or point --url / ECERT_URL at it.") from err
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise CliError(f"the gateway at {base} did not answer within {timeout:.0f} s") from err
        raise CliError(f"cannot reach the gateway at {base}: {reason}") from err
    except (TimeoutError, socket.timeout) as err:
        raise CliError(f"the gateway at {base} did not answer within {timeout:.0f} s") from err
    except ValueError as err:  # a malformed URL
        raise CliError(f"bad gateway URL {url!r}: {err}", 2) from err


def answer_json(raw: bytes) -> Any:
    """A gateway answer's body as JSON (an empty one: None)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError as err:
        raise CliError(f"the gateway answered something that is not JSON: {raw[:200]!r}") from err


def request(method: str, url: str, key: str | None, body: Any = None, timeout: float = TIMEOUT) -> Any:
    """One JSON call to the gateway (:func:`call`): ``body`` sent as JSON, the answer read as JSON."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    raw, _ = call(method, url, key, data, "application/json" if data is not None else None, timeout=timeout)
    return answer_json(raw)


def _error_message(status: int, raw: bytes) -> str:
    try:
        err = json.loads(raw)["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()
        return f"HTTP {status}" + (f": {text[:300]}" if text else "")


def _url(args, path: str) -> str:
    return (args.url or os.environ.get("ECERT_URL") or DEFAULT_URL).rstrip("/") + path


# -- the store -----------------------------------------------------------------------------------

def _store_uri(args) -> str:
    """The store the running suite uses: ``--store``, else ``ECERT_STORE_URI``, else
    :data:`DEFAULT_STORE`; a SQLite file that is not there is a usage mistake (exit 2)."""
    uri = args.store or os.environ.get("ECERT_STORE_URI") or DEFAULT_STORE
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():
            raise CliError(f"no store at {path} (from {uri}): start the suite first (`make run`) "
                           "or give the running suite's store with --store URI", 2)
    return uri


# -- commands ------------------------------------------------------------------------------------

def cmd_apikey_create(args) -> int:
    from ecert.errors import ConfigError, EcertError, is_client_error
    from ecert.rules import apikeys
    from ecert.store import open_store

    uri = _store_uri(args)

    async def create() -> tuple[str, dict]:
        store = await open_store(uri)
        try:
            return await apikeys.create_api_key(store, args.role, args.region, args.label or "", org=args.org or "")
        finally:
            await store.close()

    try:
        secret, doc = asyncio.run(create())
    except EcertError as err:
        status = 2 if is_client_error(err) or isinstance(err, ConfigError) else 1
        raise CliError(str(err), status) from err
    region = f", region {doc['region']}" if doc["region"] else ""
    label = f", label {doc['label']!r}" if doc["label"] else ""
    org = f", organisation {doc['org']!r}" if doc.get("org") else ""
    print(f"Created {doc['role']} key {doc['key_id']}{region}{org}{label}. It is shown only this once; "
          "send it as 'Authorization: Bearer KEY':")
    print(secret)
    return 0


def cmd_issue(args) -> int:
    fields = _read_json_object(args.fields, "the credential's fields")
    body: dict[str, Any] = {"region": args.region, "type": args.type, "fields": fields}
    if args.version is not None:
        body["version"] = args.version
    if args.valid_days is not None:
        body["valid_days"] = args.valid_days
    if args.request_id:
        body["request_id"] = args.request_id
    c = request("POST", _url(args, "/v1/credentials"), _api_key(args), body)
    print(f"id:      {c.get('id')}" + (f"  ({c['display_id']})" if c.get("display_id") else ""))
    print(f"type:    {c.get('type')} v{c.get('version')}, region {c.get('region')}")
    print(f"status:  {c.get('status')}")
    print(f"valid:   {c.get('issued_at')} to {c.get('expires_at')}")
    print(c.get("qr_text", ""))
    if not args.no_qr and c.get("qr_text"):
        from ecert.imaging import qr
        print(qr.terminal(c["qr_text"]), end="")
    return 0


def _payload(args) -> str:
    if args.file:
        return _read_text(args.file).strip()
    if args.text == "-":
        return sys.stdin.read().strip()
    if args.text:
        return args.text.strip()
    raise CliError("give the QR text, --file FILE, or - to read standard input", 2)


def cmd_verify(args) -> int:
    body = {"payload": _payload(args)}
    if args.purpose:
        body["purpose"] = args.purpose
    r = request("POST", _url(args, "/v1/verifications"), _api_key(args), body)
    if args.json:
        print(json.dumps(r, ensure_ascii=False, indent=2))
    else:
        print(f"result:  {r.get('result')}" + (f" ({r['detail']})" if r.get("detail") else ""))
        c = r.get("credential")
        if c:
            print(f"credential: {c.get('id')}  {c.get('type')} v{c.get('version')}  issued by {c.get('region')}")
            if c.get("display_id"):
                print(f"display id: {c['display_id']}")
            print(f"valid:   {c.get('issued_at')} to {c.get('expires_at')}")
            print(f"status checked: {'yes' if r.get('status_checked') else 'NO (status list unavailable or stale)'}")
        print(f"trust list v{r.get('trust_list_version')}; checked at {r.get('checked_at')}"
              + (f"; for {r['purpose']}" if r.get("purpose") else ""))
        for w in r.get("warnings") or ():
            print(f"WARNING: {w.get('code')}: {w.get('field')} lapsed ({w.get('since')})")
        fields = r.get("fields") or {}
        if fields:
            print("fields:")
            width = max(len(k) for k in fields)
            for k, v in fields.items():
                print(f"  {k:<{width}}  {v}")
    return 0 if r.get("result") == "VALID" else 1


def cmd_present(args) -> int:
    body = {"purpose": args.purpose} if args.purpose else {}
    t = request("POST", _url(args, f"/v1/credentials/{_path_part(args.id)}/presentations"), _api_key(args), body)
    if args.json:
        print(json.dumps(t, ensure_ascii=False, indent=2))
        return 0
    purpose = f", for {t['purpose']} only" if t.get("purpose") else ""
    print(f"show code for {t.get('credential_id')}: single use, valid {t.get('expires_in')} s "
          f"(until {t.get('expires_at')}){purpose}")
    print(t.get("token", ""))
    if not args.no_qr and t.get("token"):
        from ecert.imaging import qr
        print(qr.terminal(t["token"]), end="")
    return 0


def cmd_audit_verify(args) -> int:
    from ecert.cli import audit
    return audit.cmd_audit_verify(args)


def cmd_photo(args) -> int:
    from ecert.cli import photos
    return (photos.cmd_photo_upload if args.action == "upload" else photos.cmd_photo_get)(args)


def cmd_qr(args) -> int:
    from ecert.imaging import qr
    text = args.text.strip()
    try:
        print(qr.terminal(text), end="")
    except ValueError as err:  # segno: not encodable in alphanumeric mode, or too long
        raise CliError(f"cannot draw a QR code of this text (EC1:/EP1: text expected): {err}", 2) from err
    return 0


def cmd_type_publish(args) -> int:
    doc = _read_json_object(args.file, "a certificate type: id, version, name, schema, disclosure")
    t = request("POST", _url(args, "/v1/certificate-types"), _api_key(args), doc)
    print(f"published {t.get('id')} v{t.get('version')} ({t.get('name')})")
    return 0


def _print_rules(r: dict) -> None:
    print(f"recognition rules of trust list v{r.get('trust_list_version')}")
    print("purposes (the certificate types each accepts):")
    purposes = r.get("purposes") or {}
    width = max((len(k) for k in purposes), default=0)
    for purpose, types in purposes.items():
        print(f"  {purpose:<{width}}  {', '.join(types) or '(none)'}")
    print("recognition (whose credentials callers of each region recognise; * : callers bound to no region):")
    recognition = r.get("recognition") or {}
    width = max((len(k) for k in recognition), default=0)
    for region, regions in recognition.items():
        print(f"  {region:<{width}}  {', '.join(regions) or '(none)'}")


def cmd_rules_show(args) -> int:
    r = request("GET", _url(args, "/v1/recognition-rules"), _api_key(args))
    if args.json:
        print(json.dumps(r, ensure_ascii=False, indent=2))
    else:
        _print_rules(r)
    return 0


def _items(args, what: str) -> list[str]:
    if args.none and args.items:
        raise CliError(f"give {what} or --none, not both", 2)
    if not args.none and not args.items:
        raise CliError(f"give {what}, or --none to accept none", 2)
    return list(args.items)


def _path_part(text: str) -> str:
    return urllib.parse.quote(text, safe="*")


def cmd_rules_set_types(args) -> int:
    types = _items(args, "the certificate types")
    r = request("PUT", _url(args, f"/v1/recognition-rules/purposes/{_path_part(args.purpose)}"), _api_key(args),
                {"types": types})
    accepted = (r.get("purposes") or {}).get(args.purpose, [])
    print(f"{args.purpose} accepts {', '.join(accepted) or 'nothing'} (trust list v{r.get('trust_list_version')})")
    return 0


def cmd_rules_set_recognition(args) -> int:
    regions = _items(args, "the regions")
    r = request("PUT", _url(args, f"/v1/recognition-rules/regions/{_path_part(args.region)}"), _api_key(args),
                {"recognises": regions})
    recognised = (r.get("recognition") or {}).get(args.region, [])
    who = "callers bound to no region" if args.region == "*" else args.region
    print(f"{who} recognise{'s' if args.region != '*' else ''} credentials of {', '.join(recognised) or 'no region'} "
          f"(trust list v{r.get('trust_list_version')})")
    return 0


# -- argument parsing ----------------------------------------------------------------------------

def _gateway_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help=f"gateway URL (default: $ECERT_URL or {DEFAULT_URL})")
    p.add_argument("--key", help="API key (default: $ECERT_API_KEY)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecert", description="E-certificate suite command-line tool.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    apikey = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True,
                                                                              metavar="ACTION")
    p = apikey.add_parser("create", help="create an API key in the store (printed alone on the last line)")
    p.add_argument("--role", required=True, help="admin, agency, hotel, traffic_police or integrator")
    p.add_argument("--region", help="region code, e.g. CN-ZJ (required for agency)")
    p.add_argument("--org", help="the organisation that holds the key, e.g. \"上海某酒店\": the access log of each "
                                 "credential it checks names it")
    p.add_argument("--label", help="a note to tell keys apart")
    p.add_argument("--store", help=f"store URI (default: $ECERT_STORE_URI or {DEFAULT_STORE})")
    p.set_defaults(func=cmd_apikey_create)

    p = sub.add_parser("issue", help="issue a credential through the gateway")
    p.add_argument("--region", required=True, help="issuing region, e.g. CN-ZJ")
    p.add_argument("--type", required=True, help="certificate type id, e.g. cn.driving_licence")
    p.add_argument("--version", type=int, help="schema version (default: the latest)")
    p.add_argument("--fields", required=True, metavar="FILE.json|-", help="the fields as a JSON object")
    p.add_argument("--valid-days", type=int)
    p.add_argument("--request-id", help="idempotency key: the same id returns the same credential")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    _gateway_options(p)
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", help="verify an EC1:/EP1: text through the gateway (exit 0 if VALID)")
    p.add_argument("text", nargs="?", help="the QR text, or - to read it from standard input")
    p.add_argument("--file", help="read the QR text from a file")
    p.add_argument("--purpose", help="what the check is for, e.g. hotel_check_in (default: your role's; "
                                     "`ecert rules show` lists which types each purpose accepts)")
    p.add_argument("--json", action="store_true", help="print the gateway's JSON answer")
    _gateway_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("present", help="make a single-use show code (EP1, valid 300 s) for a credential, on its "
                                       "holder's behalf (issuing agency or admin)")
    p.add_argument("id", help="the credential's id")
    p.add_argument("--purpose", help="the purpose the holder chose, e.g. hotel_check_in: a check for another "
                                     "purpose is not accepted (default: any)")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    p.add_argument("--json", action="store_true", help="print the gateway's JSON answer")
    _gateway_options(p)
    p.set_defaults(func=cmd_present)

    audit = sub.add_parser("audit", help="the regions' trails").add_subparsers(dest="action", required=True,
                                                                              metavar="ACTION")
    p = audit.add_parser("verify", help="walk a region's trail in the store: exit 0 if its hash chain is intact, "
                                        "1 naming the first entry altered, removed or moved")
    p.add_argument("--region", required=True, help="the region whose trail to walk, e.g. CN-ZJ")
    p.add_argument("--store", help=f"store URI (default: $ECERT_STORE_URI or {DEFAULT_STORE})")
    p.set_defaults(func=cmd_audit_verify)

    photo = sub.add_parser("photo", help="the regions' photo libraries").add_subparsers(dest="action", required=True,
                                                                                     metavar="ACTION")
    p = photo.add_parser("upload", help="file a JPEG or PNG portrait in a region's library (agency: its own; "
                                        "admin: --region); prints its digest, a credential's photo, last")
    p.add_argument("file", help="the picture (metadata such as GPS is removed; stored once per region)")
    p.add_argument("--region", help="the library's region, e.g. CN-ZJ (an agency's own by default)")
    p.add_argument("--json", action="store_true", help="print the gateway's JSON answer")
    _gateway_options(p)
    p.set_defaults(func=cmd_photo)
    p = photo.add_parser("get", help="fetch a credential's portrait (checked against its digest), written 0600")
    p.add_argument("digest", help="the credential's photo field (64 hex digits)")
    p.add_argument("--credential", help="the credential's id (default: any credential naming the photo that "
                                        "shows it to your role)")
    p.add_argument("--region", help="the region that issued it, e.g. CN-ZJ (default: every region is asked)")
    p.add_argument("--out", required=True, help="the file to write (JPEG)")
    p.add_argument("--purpose", help="what it is fetched for (one of your role's; recorded in the access log)")
    _gateway_options(p)
    p.set_defaults(func=cmd_photo)

    p = sub.add_parser("qr", help="draw a QR code of an EC1:/EP1: text in the terminal")
    p.add_argument("text")
    p.set_defaults(func=cmd_qr)

    types = sub.add_parser("type", help="certificate types").add_subparsers(dest="action", required=True,
                                                                             metavar="ACTION")
    p = types.add_parser("publish", help="publish a certificate type (admin)")
    p.add_argument("file", metavar="FILE.json")
    _gateway_options(p)
    p.set_defaults(func=cmd_type_publish)

    rules = sub.add_parser("rules", help="recognition rules: which types each purpose accepts, which regions "
                                         "each region recognises").add_subparsers(dest="action", required=True,
                                                                                  metavar="ACTION")
    p = rules.add_parser("show", help="the rules the current trust list carries")
    p.add_argument("--json", action="store_true", help="print the gateway's JSON answer")
    _gateway_options(p)
    p.set_defaults(func=cmd_rules_show)
    p = rules.add_parser("set-types", help="set the certificate types a purpose accepts (admin)")
    p.add_argument("purpose", help="e.g. hotel_check_in")
    p.add_argument("items", nargs="*", metavar="TYPE", help="certificate type ids, e.g. cn.resident_id")
    p.add_argument("--none", action="store_true", help="accept no type at all")
    _gateway_options(p)
    p.set_defaults(func=cmd_rules_set_types)
    p = rules.add_parser("set-recognition", help="set whose credentials a region's callers recognise (admin)")
    p.add_argument("region", help="the callers' region, e.g. CN-SH, or '*' for callers bound to no region")
    p.add_argument("items", nargs="*", metavar="REGION", help="the regions whose credentials they recognise")
    p.add_argument("--none", action="store_true", help="recognise no region's credentials")
    _gateway_options(p)
    p.set_defaults(func=cmd_rules_set_recognition)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as err:
        print(f"ecert: {err}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `ecert verify ... | head`
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
