from ecertpb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyInfo(_message.Message):
    __slots__ = ("kid", "alg", "status", "nbf", "exp", "revoked_at", "spki")
    KID_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NBF_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    SPKI_FIELD_NUMBER: _ClassVar[int]
    kid: str
    alg: str
    status: str
    nbf: int
    exp: int
    revoked_at: int
    spki: bytes
    def __init__(self, kid: _Optional[str] = ..., alg: _Optional[str] = ..., status: _Optional[str] = ..., nbf: _Optional[int] = ..., exp: _Optional[int] = ..., revoked_at: _Optional[int] = ..., spki: _Optional[bytes] = ...) -> None: ...

class Region(_message.Message):
    __slots__ = ("code", "name", "endpoint", "keys")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    endpoint: str
    keys: _containers.RepeatedCompositeFieldContainer[KeyInfo]
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., endpoint: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[KeyInfo, _Mapping]]] = ...) -> None: ...

class ListRegionsRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class ListRegionsResponse(_message.Message):
    __slots__ = ("regions",)
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    regions: _containers.RepeatedCompositeFieldContainer[Region]
    def __init__(self, regions: _Optional[_Iterable[_Union[Region, _Mapping]]] = ...) -> None: ...

class CreateRegionRequest(_message.Message):
    __slots__ = ("principal", "code", "name")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    code: str
    name: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., code: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SetRegionEndpointRequest(_message.Message):
    __slots__ = ("code", "endpoint", "principal")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    code: str
    endpoint: str
    principal: _common_pb2.Principal
    def __init__(self, code: _Optional[str] = ..., endpoint: _Optional[str] = ..., principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class RegisterKeyRequest(_message.Message):
    __slots__ = ("principal", "region", "alg", "spki", "nbf", "exp")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    SPKI_FIELD_NUMBER: _ClassVar[int]
    NBF_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    region: str
    alg: str
    spki: bytes
    nbf: int
    exp: int
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., region: _Optional[str] = ..., alg: _Optional[str] = ..., spki: _Optional[bytes] = ..., nbf: _Optional[int] = ..., exp: _Optional[int] = ...) -> None: ...

class RegisterKeyResponse(_message.Message):
    __slots__ = ("kid", "created")
    KID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    kid: str
    created: bool
    def __init__(self, kid: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class KeyRef(_message.Message):
    __slots__ = ("principal", "region", "kid")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    region: str
    kid: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., region: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...

class ListCertificateTypesRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class ListCertificateTypesResponse(_message.Message):
    __slots__ = ("types",)
    TYPES_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedCompositeFieldContainer[_common_pb2.CertificateType]
    def __init__(self, types: _Optional[_Iterable[_Union[_common_pb2.CertificateType, _Mapping]]] = ...) -> None: ...

class PublishCertificateTypeRequest(_message.Message):
    __slots__ = ("principal", "type")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    type: _common_pb2.CertificateType
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., type: _Optional[_Union[_common_pb2.CertificateType, _Mapping]] = ...) -> None: ...

class GetTrustListRequest(_message.Message):
    __slots__ = ("known_version",)
    KNOWN_VERSION_FIELD_NUMBER: _ClassVar[int]
    known_version: int
    def __init__(self, known_version: _Optional[int] = ...) -> None: ...

class TrustList(_message.Message):
    __slots__ = ("version", "signed", "json", "iat", "exp", "not_modified", "root_chain")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    NOT_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    ROOT_CHAIN_FIELD_NUMBER: _ClassVar[int]
    version: int
    signed: bytes
    json: str
    iat: int
    exp: int
    not_modified: bool
    root_chain: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, version: _Optional[int] = ..., signed: _Optional[bytes] = ..., json: _Optional[str] = ..., iat: _Optional[int] = ..., exp: _Optional[int] = ..., not_modified: _Optional[bool] = ..., root_chain: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RotateRootKeyRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class RootKey(_message.Message):
    __slots__ = ("kid", "alg", "spki", "previous_kid", "trust_list_version")
    KID_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    SPKI_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_KID_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    kid: str
    alg: str
    spki: bytes
    previous_kid: str
    trust_list_version: int
    def __init__(self, kid: _Optional[str] = ..., alg: _Optional[str] = ..., spki: _Optional[bytes] = ..., previous_kid: _Optional[str] = ..., trust_list_version: _Optional[int] = ...) -> None: ...

class PurposeTypes(_message.Message):
    __slots__ = ("purpose", "types")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, purpose: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class Recognition(_message.Message):
    __slots__ = ("region", "recognises")
    REGION_FIELD_NUMBER: _ClassVar[int]
    RECOGNISES_FIELD_NUMBER: _ClassVar[int]
    region: str
    recognises: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, region: _Optional[str] = ..., recognises: _Optional[_Iterable[str]] = ...) -> None: ...

class RecognitionRules(_message.Message):
    __slots__ = ("purposes", "recognition", "trust_list_version")
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    purposes: _containers.RepeatedCompositeFieldContainer[PurposeTypes]
    recognition: _containers.RepeatedCompositeFieldContainer[Recognition]
    trust_list_version: int
    def __init__(self, purposes: _Optional[_Iterable[_Union[PurposeTypes, _Mapping]]] = ..., recognition: _Optional[_Iterable[_Union[Recognition, _Mapping]]] = ..., trust_list_version: _Optional[int] = ...) -> None: ...

class GetRecognitionRulesRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class SetPurposeTypesRequest(_message.Message):
    __slots__ = ("principal", "purpose", "types")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    purpose: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., purpose: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class SetRecognitionRequest(_message.Message):
    __slots__ = ("principal", "region", "recognises")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    RECOGNISES_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    region: str
    recognises: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., region: _Optional[str] = ..., recognises: _Optional[_Iterable[str]] = ...) -> None: ...
