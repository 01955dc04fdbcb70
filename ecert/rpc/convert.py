"""Translations between protobuf messages and core objects, shared by every gRPC edge."""

from __future__ import annotations

from ecertpb.v1 import common_pb2

from ..rules.access import Principal, service_principal
from ..rules.document import DocumentDate


def principal_to_pb(p: Principal) -> common_pb2.Principal:
    return common_pb2.Principal(role=p.role, region=p.region, key_id=p.key_id, org=p.org)


def principal_from_pb(pb: common_pb2.Principal) -> Principal:
    return Principal(pb.role, pb.region, pb.key_id, pb.org)


def service_principal_pb(region: str = "") -> common_pb2.Principal:
    """The principal the suite's own processes use between themselves, as protobuf."""
    return principal_to_pb(service_principal(region))


def document_pb(d: DocumentDate | None) -> common_pb2.DocumentDate | None:
    """An answer's ``document`` as protobuf (None: the member stays unset)."""
    return None if d is None else common_pb2.DocumentDate(field=d.field, date=d.date)


def document_from_pb(response) -> DocumentDate | None:
    """The ``document`` of a response message that has one, None when it is unset."""
    if not response.HasField("document"):
        return None
    d = response.document
    return DocumentDate(d.field, d.date)
