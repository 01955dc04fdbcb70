"""``ecert photo``: a region's photo library from the terminal, through the gateway.

    ecert photo upload FILE [--region CODE] [--json]     # agency (its region) or admin: the digest, last line
    ecert photo get DIGEST --out FILE [--credential ID] [--region CODE] [--purpose PURPOSE]

``upload`` files a JPEG or PNG portrait (``POST /v1/photos``) and prints the digest a credential's
``photo`` names, alone on the last line. ``get`` fetches a credential's portrait
(``GET /v1/photos/{digest}``; naming the credential and its region asks that region only), checks
its SHA-256 against the digest and writes it 0600 (a portrait is personal data).
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

from ecert.cli.commands import CliError, _api_key, _url, answer_json, call
from ecert.errors import InvalidRequest
from ecert.files import write_private
from ecert.imaging import pictures, portrait
from ecert.limits import MAX_PHOTO_BYTES
from ecert.rules.requests import check_photo_digest

TIMEOUT = 35.0
"""Seconds the gateway may take (an upload is decoded and re-encoded by the region's issuer)."""
_MEDIA_TYPES = {kind: f"image/{kind}" for kind in portrait.KINDS}
"""The kinds (:func:`ecert.imaging.pictures.sniff`) a portrait may be, as the upload's ``Content-Type``."""


def cmd_photo_upload(args) -> int:
    path = Path(args.file)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PHOTO_BYTES + 1)
    except OSError as err:
        raise CliError(f"cannot read {args.file}: {err.strerror or err}", 2) from err
    if len(data) > MAX_PHOTO_BYTES:
        raise CliError(f"{args.file} is over {MAX_PHOTO_BYTES} bytes: a portrait may be at most that", 2)
    content_type = _MEDIA_TYPES.get(pictures.sniff(data))
    if content_type is None:
        raise CliError(f"{args.file} is not a JPEG or PNG picture", 2)
    query = "?" + urllib.parse.urlencode({"region": args.region}) if args.region else ""
    raw, status = call("POST", _url(args, "/v1/photos" + query), _api_key(args), data, content_type,
                       timeout=TIMEOUT)
    answer = answer_json(raw)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    held = "filed" if status == 201 else "already in the library"
    print(f"portrait {held} in {answer.get('region')} ({answer.get('width')}×{answer.get('height')} JPEG, "
          "metadata removed); a credential names it as its photo:")
    print(answer["digest"])
    return 0


def cmd_photo_get(args) -> int:
    try:
        digest = check_photo_digest(args.digest.strip())
    except InvalidRequest as err:
        raise CliError(f"DIGEST: {err.message}", 2) from err
    query = {name: value for name, value in (("credential", args.credential), ("region", args.region),
                                              ("purpose", args.purpose)) if value}
    path = f"/v1/photos/{digest}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data, _ = call("GET", _url(args, path), _api_key(args), accept="image/jpeg", timeout=TIMEOUT)
    if portrait.digest(data) != digest:
        raise CliError("the photo received does not match its digest: not written")
    try:
        write_private(Path(args.out), data)
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror or err}", 2) from err
    print(f"wrote {args.out} ({len(data)} bytes, SHA-256 checked)", file=sys.stderr)
    return 0
