"""``ecert photo``: a region's photo library from the terminal, through the gateway.

    ecert photo upload FILE [--region CODE] [--json]     # agency (its region) or admin: the digest, last line
    ecert photo get DIGEST --credential ID --region CODE --out FILE [--purpose PURPOSE]

``upload`` files a JPEG or PNG portrait (``POST /v1/photos``) and prints the digest a credential's
``photo`` names, alone on the last line. ``get`` fetches a credential's portrait
(``GET /v1/photos/{digest}``), checks its SHA-256 against the digest and writes it 0600 (a
portrait is personal data).
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ecert.files import write_private
from ecert.imaging import portrait
from ecert.limits import MAX_PHOTO_BYTES

TIMEOUT = 35.0
"""Seconds the gateway may take (an upload is decoded and re-encoded by the region's issuer)."""
_KINDS = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def _call(req: urllib.request.Request, cli_error, error_message) -> tuple[bytes, int]:
    base = req.full_url.split("/v1/", 1)[0]
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.read(), resp.status
    except urllib.error.HTTPError as err:
        raise cli_error(error_message(err.code, err.read())) from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise cli_error(f"cannot reach the gateway at {base}: connection refused. Is the suite running? "
                            "Start it with `make run`, or point --url / ECERT_URL at it.") from err
        raise cli_error(f"cannot reach the gateway at {base}: {err.reason}") from err
    except (TimeoutError, socket.timeout) as err:
        raise cli_error(f"the gateway at {base} did not answer within {TIMEOUT:.0f} s") from err
    except ValueError as err:
        raise cli_error(f"bad gateway URL {req.full_url!r}: {err}", 2) from err


def cmd_photo_upload(args, *, url, api_key, cli_error, error_message) -> int:
    path = Path(args.file)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PHOTO_BYTES + 1)
    except OSError as err:
        raise cli_error(f"cannot read {args.file}: {err.strerror or err}", 2) from err
    if len(data) > MAX_PHOTO_BYTES:
        raise cli_error(f"{args.file} is over {MAX_PHOTO_BYTES} bytes: a portrait may be at most that", 2)
    content_type = next((t for magic, t in _KINDS if data.startswith(magic)), None)
    if content_type is None:
        raise cli_error(f"{args.file} is not a JPEG or PNG picture", 2)
    query = "?" + urllib.parse.urlencode({"region": args.region}) if args.region else ""
    req = urllib.request.Request(url(args, "/v1/photos" + query), data=data, method="POST", headers={
        "Content-Type": content_type, "Accept": "application/json", "Authorization": f"Bearer {api_key(args)}"})
    raw, status = _call(req, cli_error, error_message)
    answer = json.loads(raw)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    held = "filed" if status == 201 else "already in the library"
    print(f"portrait {held} in {answer.get('region')} ({answer.get('width')}×{answer.get('height')} JPEG, "
          "metadata removed); a credential names it as its photo:")
    print(answer["digest"])
    return 0


def cmd_photo_get(args, *, url, api_key, cli_error, error_message) -> int:
    digest = args.digest.strip().lower()
    query = {"credential": args.credential, "region": args.region}
    if args.purpose:
        query["purpose"] = args.purpose
    path = f"/v1/photos/{urllib.parse.quote(digest, safe='')}?{urllib.parse.urlencode(query)}"
    req = urllib.request.Request(url(args, path), method="GET",
                                 headers={"Accept": "image/jpeg", "Authorization": f"Bearer {api_key(args)}"})
    data, _ = _call(req, cli_error, error_message)
    if portrait.digest(data) != digest:
        raise cli_error("the photo received does not match its digest: not written")
    try:
        write_private(Path(args.out), data)
    except OSError as err:
        raise cli_error(f"cannot write {args.out}: {err.strerror or err}", 2) from err
    print(f"wrote {args.out} ({len(data)} bytes, SHA-256 checked)", file=sys.stderr)
    return 0
