"""``python -m ecert.rpc.probe TARGET PEER``: exit 0 when the gRPC service at TARGET (which is
PEER: ``registry``, ``issuer``, ``verifier``) answers its health check SERVING, over TLS with the
certificate the environment names (``ECERT_TLS_CA``, ``ECERT_TLS_CERT``, ``ECERT_TLS_KEY``), as
a container's health check does. Health checks need no token."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..runtime.pki import TlsFiles

TIMEOUT = 3.0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m ecert.rpc.probe TARGET PEER", file=sys.stderr)
        return 2
    target, peer = args
    env = os.environ
    tls = TlsFiles(Path(env["ECERT_TLS_CA"]), Path(env["ECERT_TLS_CERT"]), Path(env["ECERT_TLS_KEY"])).load()
    creds = grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert)
    with grpc.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", peer.lower())]) as ch:
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
        except grpc.RpcError as err:
            print(f"{target}: {err.code().name}", file=sys.stderr)
            return 1
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    raise SystemExit(main())
