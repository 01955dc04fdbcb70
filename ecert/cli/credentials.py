"""``ecert issue``, ``ecert verify``, ``ecert present`` and ``ecert credential get|list|revoke|suspend|reinstate``:
credentials through the gateway (:class:`ecert.client.Client`).

``issue`` always sends a ``request_id`` (a new one when ``--request-id`` is not given, printed
on standard error) and the client retries a timeout with it: one credential, however often it is
sent. ``verify`` exits 0 for VALID, 1 for any other verdict, 3 when it could not ask.
"""

from __future__ import annotations

import sys
from typing import Any

from ecert import client as gw
from ecert.vocab import CredentialStatus

from .common import NOT_VALID, OK, USAGE, CliError, client, from_client_error, gateway_options, print_json, \
    read_json_object, read_text, table


def _draw(text: str) -> None:
    from ecert.imaging import qr
    print(qr.terminal(text), end="")


def _print_credential(c: dict, *, fields: bool = False) -> None:
    print(f"id:      {c.get('id')}" + (f"  ({c['display_id']})" if c.get("display_id") else ""))
    print(f"type:    {c.get('type')} v{c.get('version')}, region {c.get('region')}")
    print(f"status:  {c.get('status')}")
    print(f"valid:   {c.get('issued_at')} to {c.get('expires_at')}")
    if fields and c.get("fields"):
        _print_fields(c["fields"])
    print(c.get("qr_text", ""))


def _print_fields(fields: dict) -> None:
    print("fields:")
    width = max(len(k) for k in fields)
    for k, v in fields.items():
        print(f"  {k:<{width}}  {v}")


# -- issue -----------------------------------------------------------------------------------------

def cmd_issue(args) -> int:
    fields = read_json_object(args.fields, "the credential's fields")
    gateway = client(args)
    request_id = args.request_id or gw.new_request_id()
    if not args.request_id and not args.json:
        print(f"request id {request_id} (give it as --request-id to send this issuance again)", file=sys.stderr)
    try:
        c = gateway.issue(args.region, args.type, fields, version=args.version, valid_days=args.valid_days,
                          request_id=request_id)
    except (gw.Unreachable, gw.ServerError) as err:
        raise from_client_error(err, f" (sending it again with --request-id {request_id} issues nothing "
                                     "more: the same credential comes back)") from err
    if args.json:
        print_json(c)
        return OK
    _print_credential(c)
    if not args.no_qr and c.get("qr_text"):
        _draw(c["qr_text"])
    return OK


# -- verify and show codes -------------------------------------------------------------------------

def _payload(args) -> str:
    if args.file:
        text = read_text(args.file)
    elif args.text == "-":
        text = sys.stdin.read()
    elif args.text:
        text = args.text
    else:
        raise CliError("give the QR text, --file FILE, or - to read standard input", USAGE)
    text = text.strip()
    if not text:
        raise CliError("the QR text is empty", USAGE)
    return text


def cmd_verify(args) -> int:
    r = client(args).verify(_payload(args), args.purpose)
    if args.json:
        print_json(r)
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
        if r.get("fields"):
            _print_fields(r["fields"])
    return OK if r.get("result") == "VALID" else NOT_VALID


def cmd_present(args) -> int:
    t = client(args).present(args.id, args.purpose)
    if args.json:
        print_json(t)
        return OK
    purpose = f", for {t['purpose']} only" if t.get("purpose") else ""
    print(f"show code for {t.get('credential_id')}: single use, valid {t.get('expires_in')} s "
          f"(until {t.get('expires_at')}){purpose}")
    print(t.get("token", ""))
    if not args.no_qr and t.get("token"):
        _draw(t["token"])
    return OK


# -- credential get | list | revoke | suspend | reinstate ------------------------------------------

def cmd_get(args) -> int:
    c = client(args).credential(args.id)
    if args.json:
        print_json(c)
        return OK
    _print_credential(c, fields=True)
    if args.qr and c.get("qr_text"):
        _draw(c["qr_text"])
    return OK


def _filters(args) -> dict[str, Any]:
    holder = args.holder_id
    if holder == "-":  # kept out of the shell's history and the process list
        holder = sys.stdin.readline().strip()
        if not holder:
            raise CliError("--holder-id -: no ID number on standard input", USAGE)
    return {"type": args.type, "status": args.status, "issued_after": args.issued_after,
            "issued_before": args.issued_before, "holder_id": holder, "region": args.region,
            "purpose": args.purpose, "limit": args.limit}


def cmd_list(args) -> int:
    gateway = client(args)
    filters = _filters(args)
    if args.all:
        items, cursor = list(gateway.iter_credentials(cursor=args.cursor, **filters)), None
    else:
        page = gateway.credentials(cursor=args.cursor, **filters)
        items, cursor = page.get("items") or [], page.get("next_cursor")
    if args.json:
        print_json({"items": items, "next_cursor": cursor})
        return OK
    table([[c.get("id", ""), f"{c.get('type')} v{c.get('version')}", c.get("status", ""),
            c.get("issued_at") or "", c.get("expires_at") or ""] for c in items],
          ["ID", "TYPE", "STATUS", "ISSUED", "EXPIRES"])
    print(f"{len(items)} credential{'s' if len(items) != 1 else ''}", file=sys.stderr)
    if cursor:
        print(f"more: add --cursor {cursor} (or --all)", file=sys.stderr)
    return OK


_DONE = {"revoke": "revoked (final: never valid again)", "suspend": "suspended (reinstate to make it valid again)",
         "reinstate": "reinstated"}


def cmd_status(args) -> int:
    gateway = client(args)
    answer = {"revoke": gateway.revoke, "suspend": gateway.suspend, "reinstate": gateway.reinstate}[args.action](args.id)
    if args.json:
        print_json(answer)
    else:
        print(f"{answer.get('id')}: {_DONE[args.action]}; status {answer.get('status')}. Verifiers learn it "
              "with their next status list.")
    return OK


# -- parsers ---------------------------------------------------------------------------------------

def register(sub) -> None:
    p = sub.add_parser("issue", help="issue a credential through the gateway (agency of the region, admin)")
    p.add_argument("--region", required=True, help="issuing region, e.g. CN-ZJ")
    p.add_argument("--type", required=True, help="certificate type id, e.g. cn.driving_licence")
    p.add_argument("--version", type=int, help="schema version (default: the latest)")
    p.add_argument("--fields", required=True, metavar="FILE.json|-", help="the fields as a JSON object")
    p.add_argument("--valid-days", type=int, help="days the credential is valid (default: the issuer's)")
    p.add_argument("--request-id", help="idempotency key: the same id returns the same credential (default: a new "
                                        "one, printed on standard error; a timeout is retried with it)")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    gateway_options(p, "print the credential as the gateway's JSON")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("verify", help="verify an EC1:/EP1: text (exit 0 VALID, 1 another verdict, 3 could not ask)")
    p.add_argument("text", nargs="?", help="the QR text, or - to read it from standard input")
    p.add_argument("--file", help="read the QR text from a file")
    p.add_argument("--purpose", help="what the check is for, e.g. hotel_check_in (default: your role's; "
                                     "`ecert rules show` lists which types each purpose accepts)")
    gateway_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("present", help="make a single-use show code (EP1, valid 300 s) for a credential, on its "
                                       "holder's behalf (issuing agency or admin)")
    p.add_argument("id", help="the credential's id")
    p.add_argument("--purpose", help="the purpose the holder chose, e.g. hotel_check_in: a check for another "
                                     "purpose is not accepted (default: any)")
    p.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    gateway_options(p)
    p.set_defaults(func=cmd_present)

    cred = sub.add_parser("credential", help="credentials issued: get, list (search), revoke, suspend, reinstate "
                                             "(issuing agency, admin)").add_subparsers(dest="action", required=True,
                                                                                        metavar="ACTION")
    p = cred.add_parser("get", help="one credential's record: its status, fields and QR text")
    p.add_argument("id", help="the credential's id")
    p.add_argument("--qr", action="store_true", help="draw its QR code too")
    gateway_options(p)
    p.set_defaults(func=cmd_get)

    p = cred.add_parser("list", help="the credentials a region issued (an agency: its own; admin: --region), newest "
                                     "first, a page at a time; filters combine; each one listed is recorded in the "
                                     "region's trail")
    p.add_argument("--type", help="certificate type id, e.g. cn.driving_licence")
    p.add_argument("--status", choices=tuple(s.value for s in CredentialStatus))
    p.add_argument("--issued-after", metavar="TIME", help="from this instant on (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
    p.add_argument("--issued-before", metavar="TIME", help="before this instant (RFC 3339)")
    p.add_argument("--holder-id", metavar="ID|-", help="the holder's ID number (- reads it from standard input, "
                                                       "out of the shell's history)")
    p.add_argument("--region", help="the issuing region (an admin names it; an agency's own by default)")
    p.add_argument("--purpose", help="why you look (one of your role's; recorded in the trail; default: your role's)")
    p.add_argument("--limit", type=int, help="credentials per page (default: the gateway's)")
    p.add_argument("--cursor", help="the page after the one that printed it")
    p.add_argument("--all", action="store_true", help="follow the pages to the end")
    gateway_options(p, "print {items, next_cursor} as JSON")
    p.set_defaults(func=cmd_list)

    for action, text in (("revoke", "revoke a credential for good"),
                         ("suspend", "suspend a credential (not valid until reinstated)"),
                         ("reinstate", "make a suspended credential valid again")):
        p = cred.add_parser(action, help=text)
        p.add_argument("id", help="the credential's id")
        gateway_options(p)
        p.set_defaults(func=cmd_status)
