"""``ecert photo``: a region's photo library from the terminal, through the gateway.

    ecert photo upload FILE [--region CODE] [--json]     # agency (its region) or admin: the digest, last line
    ecert photo get DIGEST --out FILE [--credential ID] [--region CODE] [--purpose PURPOSE]

``upload`` files a JPEG or PNG portrait (``POST /v1/photos``) and prints the digest a credential's
``photo`` names, alone on the last line. ``get`` fetches a credential's portrait
(``GET /v1/photos/{digest}``; naming the credential and its region asks that region only), checks
its SHA-256 against the digest and writes it 0600 (a portrait is personal data).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecert import client as gw
from ecert.cli.common import OK, USAGE, CliError, client, gateway_options, print_json, read_bytes
from ecert.errors import InvalidRequest
from ecert.files import write_private
from ecert.limits import MAX_PHOTO_BYTES
from ecert.rules.requests import check_photo_digest

TIMEOUT = gw.PHOTO_TIMEOUT
"""Seconds the gateway may take (an upload is decoded and re-encoded by the region's issuer)."""


def cmd_photo_upload(args) -> int:
    from ecert.imaging import pictures, portrait  # (loaded only by the commands that need pictures)

    data = read_bytes(args.file, MAX_PHOTO_BYTES)
    if len(data) > MAX_PHOTO_BYTES:
        raise CliError(f"{args.file} is over {MAX_PHOTO_BYTES} bytes: a portrait may be at most that", USAGE)
    kind = pictures.sniff(data)
    if kind not in portrait.KINDS:
        raise CliError(f"{args.file} is not a JPEG or PNG picture", USAGE)
    answer, created = client(args).upload_photo(data, f"image/{kind}", args.region, timeout=TIMEOUT)
    if args.json:
        print_json(answer)
        return OK
    held = "filed" if created else "already in the library"
    print(f"portrait {held} in {answer.get('region')} ({answer.get('width')}×{answer.get('height')} JPEG, "
          "metadata removed); a credential names it as its photo:")
    print(answer["digest"])
    return OK


def cmd_photo_get(args) -> int:
    from ecert.imaging import portrait

    try:
        digest = check_photo_digest(args.digest.strip())
    except InvalidRequest as err:
        raise CliError(f"DIGEST: {err.message}", USAGE) from err
    data = client(args).photo(digest, credential=args.credential, region=args.region,
                                purpose=args.purpose, timeout=TIMEOUT)
    if portrait.digest(data) != digest:
        raise CliError("the photo received does not match its digest: not written")
    try:
        write_private(Path(args.out), data)
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror or err}", USAGE) from err
    if args.json:
        print_json({"digest": digest, "out": args.out, "bytes": len(data)})
    else:
        print(f"wrote {args.out} ({len(data)} bytes, SHA-256 checked)", file=sys.stderr)
    return OK


def register(sub) -> None:
    photo = sub.add_parser("photo", help="the regions' photo libraries").add_subparsers(dest="action", required=True,
                                                                                     metavar="ACTION")
    p = photo.add_parser("upload", help="file a JPEG or PNG portrait in a region's library (agency: its own; "
                                        "admin: --region); prints its digest, a credential's photo, last")
    p.add_argument("file", help="the picture (metadata such as GPS is removed; stored once per region)")
    p.add_argument("--region", help="the library's region, e.g. CN-ZJ (an agency's own by default)")
    gateway_options(p)
    p.set_defaults(func=cmd_photo_upload)
    p = photo.add_parser("get", help="fetch a credential's portrait (checked against its digest), written 0600")
    p.add_argument("digest", help="the credential's photo field (64 hex digits)")
    p.add_argument("--credential", help="the credential's id (default: any credential naming the photo that "
                                        "shows it to your role)")
    p.add_argument("--region", help="the region that issued it, e.g. CN-ZJ (default: every region is asked)")
    p.add_argument("--out", required=True, help="the file to write (JPEG)")
    p.add_argument("--purpose", help="what it is fetched for (one of your role's; recorded in the access log)")
    gateway_options(p, "print {digest, out, bytes} as JSON")
    p.set_defaults(func=cmd_photo_get)
