from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Principal(_message.Message):
    __slots__ = ("role", "region", "key_id", "org")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    role: str
    region: str
    key_id: str
    org: str
    def __init__(self, role: _Optional[str] = ..., region: _Optional[str] = ..., key_id: _Optional[str] = ..., org: _Optional[str] = ...) -> None: ...

class CertificateType(_message.Message):
    __slots__ = ("id", "version", "name", "schema_json", "disclosure_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    DISCLOSURE_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    name: str
    schema_json: str
    disclosure_json: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ..., name: _Optional[str] = ..., schema_json: _Optional[str] = ..., disclosure_json: _Optional[str] = ...) -> None: ...

class DocumentDate(_message.Message):
    __slots__ = ("field", "date")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    field: str
    date: str
    def __init__(self, field: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...
