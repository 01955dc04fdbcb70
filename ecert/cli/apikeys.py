"""``ecert apikey create|list|disable|enable|rotate|delete``: API keys.

Two ways to create one:

- **through the gateway** (``POST /v1/api-keys``), the usual one: with an admin key (any key) or an
  agency key (agency keys of its own region), given with ``--key`` or ``$ECERT_API_KEY``;
- **straight into the store** (``--store URI``, else ``$ECERT_STORE_URI``, else the development
  store ``var/ecert.db``) when no key is given: how the first admin key is made, since no key
  exists yet to ask the gateway with. It needs the store's file (or MongoDB), not the gateway.

Either way the secret is printed alone on the last line, once (the store keeps its SHA-256 only).
The other actions go through the gateway; ``list`` never shows a secret.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from .common import COULD_NOT_ASK, DEFAULT_STORE, OK, USAGE, CliError, client, gateway_options, print_json, \
    store_uri, table


def _key_id(k: dict) -> str:
    return str(k.get("id") or k.get("key_id") or "")


def _describe(k: dict) -> str:
    region = f", region {k['region']}" if k.get("region") else ""
    org = f", organisation {k['org']!r}" if k.get("org") else ""
    label = f", label {k['label']!r}" if k.get("label") else ""
    expires = f", expires {k['expires_at']}" if k.get("expires_at") else ""
    purposes = f", purposes {', '.join(k['purposes'])}" if k.get("purposes") else ""
    return f"{k.get('role')} key {_key_id(k)}{region}{org}{label}{expires}{purposes}"


def _print_secret(k: dict, secret: str, verb: str) -> None:
    print(f"{verb} {_describe(k)}. It is shown only this once; send it as 'Authorization: Bearer KEY':")
    print(secret)


def _secret(answer: dict) -> str:
    secret = answer.get("secret") or answer.get("key")
    if not isinstance(secret, str) or not secret:
        raise CliError("the gateway's answer holds no secret", COULD_NOT_ASK)
    return secret


# -- create ----------------------------------------------------------------------------------------

def _create_in_store(args) -> int:
    from ecert.errors import ConfigError, EcertError, is_client_error
    from ecert.rules import apikeys
    from ecert.store import open_store

    uri = store_uri(args)

    async def create() -> tuple[str, dict]:
        store = await open_store(uri)
        try:
            return await apikeys.create_api_key(store, args.role, args.region, args.label or "", org=args.org or "",
                                                expires_at=args.expires_at, purposes=args.purposes)
        finally:
            await store.close()

    try:
        secret, doc = asyncio.run(create())
    except EcertError as err:
        status = USAGE if is_client_error(err) or isinstance(err, ConfigError) else COULD_NOT_ASK
        raise CliError(str(err), status) from err
    record = apikeys.public_record(doc, doc["created_at"])
    record.update({name: _iso(record[name]) for name in ("created_at", "expires_at", "last_used_at", "rotated_at")})
    if args.json:
        print_json({**record, "key": secret, "secret": secret})  # as the gateway answers it
    else:
        _print_secret(record, secret, "Created")
    return OK


def _iso(ts: int | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def cmd_create(args) -> int:
    if args.store and args.key:
        raise CliError("give --store (straight into the store: the first admin key) or --key (through the gateway), "
                       "not both", USAGE)
    if args.store or not (args.key or os.environ.get("ECERT_API_KEY")):
        return _create_in_store(args)
    answer = client(args).create_api_key(args.role, region=args.region, org=args.org, label=args.label,
                                         expires_at=args.expires_at, purposes=args.purposes)
    secret = _secret(answer)
    if args.json:
        print_json(answer)
    else:
        _print_secret(answer, secret, "Created")
    return OK


# -- list and the lifecycle ------------------------------------------------------------------------

def _state(k: dict) -> str:
    if k.get("status"):
        return str(k["status"])
    return "disabled" if k.get("disabled") else "enabled"


def cmd_list(args) -> int:
    keys = list(client(args).iter_api_keys())
    if args.json:
        print_json({"keys": keys})
        return OK
    table([[_key_id(k), k.get("role", ""), k.get("region") or "-", _state(k), k.get("org") or "",
            k.get("label") or "", k.get("expires_at") or "-", k.get("last_used_at") or "never"] for k in keys],
          ["ID", "ROLE", "REGION", "STATUS", "ORGANISATION", "LABEL", "EXPIRES", "LAST USED"])
    print(f"{len(keys)} key{'s' if len(keys) != 1 else ''}", file=sys.stderr)
    return OK


def cmd_change(args) -> int:
    gateway = client(args)
    if args.action == "delete":
        gateway.delete_api_key(args.id)
        if args.json:
            print_json({"id": args.id, "deleted": True})
        else:
            print(f"key {args.id} deleted: refused from now on")
        return OK
    if args.action == "rotate":
        answer = gateway.rotate_api_key(args.id)
        if args.json:
            print_json(answer)
        else:
            overlap = answer.get("previous_secret_expires_at")
            print(f"Rotated {_describe(answer)}" + (f"; the old secret is taken until {overlap}" if overlap else "")
                  + ". The new secret is shown only this once:")
            print(_secret(answer))
        return OK
    change = gateway.disable_api_key if args.action == "disable" else gateway.enable_api_key
    answer = change(args.id)
    if args.json:
        print_json(answer)
    else:
        print(f"key {_key_id(answer) or args.id}: {_state(answer) if answer else args.action + 'd'}")
    return OK


# -- parsers ---------------------------------------------------------------------------------------

def register(sub) -> None:
    apikey = sub.add_parser("apikey", help="API keys: create, list, disable, enable, rotate, delete").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = apikey.add_parser(
        "create", help="create an API key (printed alone on the last line): through the gateway with --key "
                       "(admin, or an agency for its region's agencies), or straight into the store with --store "
                       "(the first admin key, before any key exists)",
        description="With --key KEY or $ECERT_API_KEY: POST /v1/api-keys through the gateway. With --store URI, "
                    f"or with no key at all: straight into the store ($ECERT_STORE_URI, else {DEFAULT_STORE}), "
                    "which is how the first admin key is made.")
    p.add_argument("--role", required=True, help="admin, agency, hotel, traffic_police or integrator")
    p.add_argument("--region", help="region code, e.g. CN-ZJ (required for agency)")
    p.add_argument("--org", help="the organisation that holds the key, e.g. \"上海某酒店\": the access log of each "
                                 "credential it checks names it")
    p.add_argument("--label", help="a note to tell keys apart")
    p.add_argument("--expires", dest="expires_at", metavar="TIME", help="when it stops being taken, RFC 3339 "
                                                                        "(default: never)")
    p.add_argument("--purpose", dest="purposes", action="append", metavar="PURPOSE",
                   help="a purpose it may verify for (repeat for more; default: all of its role's)")
    p.add_argument("--store", help=f"write straight into this store (default without --key: $ECERT_STORE_URI or "
                                   f"{DEFAULT_STORE})")
    gateway_options(p, "print the key (with its secret) as JSON")
    p.set_defaults(func=cmd_create)

    p = apikey.add_parser("list", help="the keys you manage (never their secrets): status, expiry, last use")
    gateway_options(p)
    p.set_defaults(func=cmd_list)
    for action, text in (("disable", "refuse a key from now on (every gateway process, within a second)"),
                         ("enable", "take a disabled key again"),
                         ("rotate", "give a key a new secret (printed last, once); the old one is still taken "
                                    "for the gateway's overlap"),
                         ("delete", "delete a key for good")):
        p = apikey.add_parser(action, help=text)
        p.add_argument("id", help="the key's id (`ecert apikey list`)")
        gateway_options(p)
        p.set_defaults(func=cmd_change)
