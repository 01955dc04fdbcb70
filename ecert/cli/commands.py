"""The ``ecert`` command: the whole job of an agency, an operator or an integrator from the terminal.

    ecert apikey create --role ROLE [--region CODE] [--org NAME] [--label TEXT] [--expires TIME] [--purpose P]...
                        (--key KEY: through the gateway | --store URI: straight into the store, the first admin key)
    ecert apikey list | disable ID | enable ID | rotate ID | delete ID
    ecert issue --region CODE --type TYPE --fields FILE.json|- [--version N] [--valid-days N] [--request-id ID]
    ecert credential get ID [--qr] | list [--type T] [--status S] [--issued-after T] [--issued-before T]
                     [--holder-id ID|-] [--region CODE] [--limit N] [--cursor C] [--all]
    ecert credential revoke ID | suspend ID | reinstate ID
    ecert verify (TEXT | --file FILE | -) [--purpose TEXT]
    ecert present ID [--purpose PURPOSE] [--no-qr]
    ecert photo upload FILE [--region CODE] | get DIGEST --out FILE [--credential ID] [--region CODE] [--purpose P]
    ecert type list | show ID [--version N] | publish FILE.json
    ecert region list
    ecert rules show | set-types PURPOSE (TYPE... | --none) | set-recognition (REGION | '*') (REGION... | --none)
    ecert qr TEXT
    ecert audit verify --region CODE [--store URI]
    ecert --version

The commands talk to the gateway over HTTP through :class:`ecert.client.Client` (``--url``, else
``ECERT_URL``, else http://127.0.0.1:8080) with an API key (``--key``, else ``ECERT_API_KEY``).
Two read the store the running suite uses instead (``--store``, else ``ECERT_STORE_URI``, else
``sqlite:///var/ecert.db`` relative to the working directory): ``apikey create`` without a key
(the first admin key, before any key exists) and ``audit verify``. Every command takes ``--json``:
the answer as JSON on standard output (an error too, as ``{"error": {...}}``, besides the one line
on standard error).

Exit codes: 0 done (``verify``: the credential is VALID; ``audit verify``: the chain is intact);
1 asked, and the answer is "not valid" (``verify``: any other result; ``audit verify``: an entry
altered, removed or moved); 2 a usage or input mistake, including a request the gateway judged
wrong (400, 404, 409, 413, 415, 422); 3 could not ask: the key refused (401, 403), a quota used up
(429), the suite failing (5xx), the gateway unreachable or not answering.
"""

from __future__ import annotations

import argparse
import json
import sys

from ecert import __version__
from ecert import client as gw
from ecert.format.b45 import ALPHABET

from . import apikeys, credentials, photos, registry
from .common import DEFAULT_STORE, DEFAULT_URL, OK, USAGE, CliError, from_client_error, print_json, store_uri

__all__ = ["DEFAULT_STORE", "DEFAULT_URL", "CliError", "build_parser", "main", "store_uri"]

QR_MAX_CHARS = 2420
"""Alphanumeric characters a QR code holds at error correction Q (version 40)."""
_QR_CHARS = frozenset(ALPHABET)


def check_qr_text(text: str) -> str:
    """``text`` if a QR code of it can be drawn as the suite draws them (an ``EC1:``/``EP1:``
    text: alphanumeric mode, error correction Q); else a one-line usage error saying why."""
    text = text.strip()
    shown = text if len(text) <= 20 else text[:17] + "..."
    if not text.startswith(("EC1:", "EP1:")):
        raise CliError(f"cannot draw {shown!r}: a QR text starts with EC1: (a credential) or EP1: (a show code)",
                       USAGE)
    for i, ch in enumerate(text):
        if ch not in _QR_CHARS:
            raise CliError(f"cannot draw {shown!r}: character {i + 1} ({ch!r}) is not in an EC1:/EP1: text "
                           "(0-9, A-Z, space and $%*+-./: only)", USAGE)
    if len(text) > QR_MAX_CHARS:
        raise CliError(f"cannot draw it: {len(text)} characters, a QR code holds at most {QR_MAX_CHARS}", USAGE)
    return text


def cmd_qr(args) -> int:
    from ecert.imaging import qr
    text = check_qr_text(args.text)
    try:
        drawn = qr.terminal(text)
    except ValueError as err:  # should not happen after the checks: still one line
        raise CliError(f"cannot draw a QR code of this text: {err}", USAGE) from err
    if args.json:
        print_json({"text": text, "terminal": drawn})
    else:
        print(drawn, end="")
    return OK


def cmd_audit_verify(args) -> int:
    from ecert.cli import audit
    return audit.cmd_audit_verify(args)


# -- argument parsing ----------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, with where to look, exit 2
        self.exit(USAGE, f"ecert: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ecert", description="E-certificate suite command-line tool: API keys, issuing, "
                     "credentials, verifying, types, regions and recognition rules, through the gateway.",
                     epilog="Exit codes: 0 done / VALID, 1 verified but not valid, 2 usage or input mistake, "
                            "3 could not ask (key refused, quota, network, 5xx). The gateway: --url or $ECERT_URL "
                            f"(default {DEFAULT_URL}); the key: --key or $ECERT_API_KEY.")
    parser.add_argument("--version", action="version", version=f"ecert {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    apikeys.register(sub)
    credentials.register(sub)
    photos.register(sub)

    p = sub.add_parser("qr", help="draw a QR code of an EC1:/EP1: text in the terminal")
    p.add_argument("text")
    p.add_argument("--json", action="store_true", help="print {text, terminal} as JSON")
    p.set_defaults(func=cmd_qr)

    audit = sub.add_parser("audit", help="the regions' trails").add_subparsers(dest="action", required=True,
                                                                              metavar="ACTION")
    p = audit.add_parser("verify", help="walk a region's trail in the store: exit 0 if its hash chain is intact, "
                                        "1 naming the first entry altered, removed or moved")
    p.add_argument("--region", required=True, help="the region whose trail to walk, e.g. CN-ZJ")
    p.add_argument("--store", help=f"store URI (default: $ECERT_STORE_URI or {DEFAULT_STORE})")
    p.add_argument("--json", action="store_true", help="print {region, intact, entries, fault} as JSON")
    p.set_defaults(func=cmd_audit_verify)

    registry.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage mistake (2)
        return done.code if isinstance(done.code, int) else USAGE
    try:
        return args.func(args)
    except gw.ClientError as err:
        return _fail(args, from_client_error(err))
    except CliError as err:
        return _fail(args, err)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `ecert verify ... | head`
        sys.stderr.close()
        return 1


def _fail(args, err: CliError) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": err.error}, ensure_ascii=False))
    print(f"ecert: {err}", file=sys.stderr)
    return err.status


if __name__ == "__main__":
    sys.exit(main())
