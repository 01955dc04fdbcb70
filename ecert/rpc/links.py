"""What a process needs to reach, or be reached by, the others: the internal token and its TLS
material (:mod:`ecert.runtime.pki`). One :class:`Links` per process, passed to every server,
channel and stream it opens.

Every gRPC link is TLS 1.2+ with mutual authentication: a server asks for the caller's
certificate and accepts only the suite CA's; a client checks that the server's certificate names
the service it means to reach (``peer=``: ``registry``, ``verifier``, ``issuer``), whatever the
address. The internal token stays, as a second factor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import grpc

from ..runtime.config import Common
from ..runtime.pki import TlsFiles, TlsMaterial


@dataclass(frozen=True)
class Links:
    token: str
    tls: TlsMaterial

    @classmethod
    def from_config(cls, cfg: Common) -> "Links":
        """The token and the TLS files a process's configuration names (a :class:`ConfigError`
        when a file cannot be read)."""
        return cls(cfg.internal_token, TlsFiles(cfg.tls_ca, cfg.tls_cert, cfg.tls_key).load())

    @classmethod
    def from_files(cls, token: str, files: TlsFiles) -> "Links":
        return cls(token, files.load())

    @property
    def identity(self) -> str:
        """The service identity this process's certificate names."""
        return self.tls.identity

    @functools.cached_property
    def server_credentials(self) -> grpc.ServerCredentials:
        """Serve with this certificate; callers must show one of the suite CA's."""
        return grpc.ssl_server_credentials([(self.tls.key, self.tls.cert)], root_certificates=self.tls.ca,
                                           require_client_auth=True)

    @functools.cached_property
    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Call with this certificate; servers must show one of the suite CA's."""
        return grpc.ssl_channel_credentials(root_certificates=self.tls.ca, private_key=self.tls.key,
                                            certificate_chain=self.tls.cert)

    def __repr__(self) -> str:  # never the token or the key in a log line or a traceback
        return f"Links(identity={self.identity!r})"
