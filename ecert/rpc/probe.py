"""``python -m ecert.rpc.probe TARGET PEER``: exit 0 when the gRPC service at TARGET (which is
PEER: ``registry``, ``issuer``, ``verifier``) answers its health check SERVING, 1 when it does
not, over TLS with the certificate the environment names (``ECERT_TLS_CA``, ``ECERT_TLS_CERT``,
``ECERT_TLS_KEY``), as a container's health check does; 2 with a one-line message when those
are missing or cannot be read. Health checks need no token."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..errors import ConfigError
from ..runtime.pki import TlsFiles
from .links import Links

TIMEOUT = 3.0
_TLS_VARIABLES = ("ECERT_TLS_CA", "ECERT_TLS_CERT", "ECERT_TLS_KEY")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m ecert.rpc.probe TARGET PEER", file=sys.stderr)
        return 2
    target, peer = args
    missing = [name for name in _TLS_VARIABLES if not os.environ.get(name)]
    if missing:
        print(f"ecert.rpc.probe: missing environment variable(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        creds = Links.from_files("", TlsFiles(*(Path(os.environ[name]) for name in _TLS_VARIABLES))).channel_credentials
    except ConfigError as err:
        print(f"ecert.rpc.probe: {err}", file=sys.stderr)
        return 2
    with grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", peer.lower())]) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        except grpc.RpcError as err:
            print(f"{target}: {err.code().name}", file=sys.stderr)
            return 1
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    raise SystemExit(main())
