"""Free loopback ports for the suites that tests and benchmarks start as processes."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on now (the kernel's pick; free until someone binds it)."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports, held open together while they are picked."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_span(span: int) -> int:
    """The first of ``span`` consecutive free ports (``make run`` puts replicas on consecutive ports)."""
    while True:
        first = free_port()
        if first + span < 65536 and all(_is_free(first + i) for i in range(1, span)):
            return first
