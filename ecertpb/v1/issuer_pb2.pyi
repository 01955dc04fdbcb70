from ecertpb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatusAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_ACTION_UNSPECIFIED: _ClassVar[StatusAction]
    REVOKE: _ClassVar[StatusAction]
    SUSPEND: _ClassVar[StatusAction]
    REINSTATE: _ClassVar[StatusAction]
STATUS_ACTION_UNSPECIFIED: StatusAction
REVOKE: StatusAction
SUSPEND: StatusAction
REINSTATE: StatusAction

class Credential(_message.Message):
    __slots__ = ("id", "region", "type", "version", "qr_text", "issued_at", "expires_at", "status", "fields_json", "kid", "display_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QR_TEXT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    region: str
    type: str
    version: int
    qr_text: str
    issued_at: int
    expires_at: int
    status: str
    fields_json: str
    kid: str
    display_id: str
    def __init__(self, id: _Optional[str] = ..., region: _Optional[str] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., qr_text: _Optional[str] = ..., issued_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., status: _Optional[str] = ..., fields_json: _Optional[str] = ..., kid: _Optional[str] = ..., display_id: _Optional[str] = ...) -> None: ...

class IssueCredentialRequest(_message.Message):
    __slots__ = ("principal", "type", "version", "fields_json", "valid_days", "request_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    VALID_DAYS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    type: str
    version: int
    fields_json: str
    valid_days: int
    request_id: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., fields_json: _Optional[str] = ..., valid_days: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class CredentialRef(_message.Message):
    __slots__ = ("principal", "id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    id: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., id: _Optional[str] = ...) -> None: ...

class ChangeStatusRequest(_message.Message):
    __slots__ = ("principal", "id", "action")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    id: str
    action: StatusAction
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., id: _Optional[str] = ..., action: _Optional[_Union[StatusAction, str]] = ...) -> None: ...

class GetStatusListRequest(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class StatusList(_message.Message):
    __slots__ = ("uri", "signed")
    URI_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    uri: str
    signed: bytes
    def __init__(self, uri: _Optional[str] = ..., signed: _Optional[bytes] = ...) -> None: ...

class Presentation(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: int
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class ResolvePresentationRequest(_message.Message):
    __slots__ = ("principal", "token_cti", "credential_cti", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CTI_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_CTI_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    token_cti: bytes
    credential_cti: bytes
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., token_cti: _Optional[bytes] = ..., credential_cti: _Optional[bytes] = ..., purpose: _Optional[str] = ...) -> None: ...

class ResolvePresentationResponse(_message.Message):
    __slots__ = ("result", "credential")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    result: str
    credential: Credential
    def __init__(self, result: _Optional[str] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class IssueStreamRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[IssueStreamItem]
    def __init__(self, items: _Optional[_Iterable[_Union[IssueStreamItem, _Mapping]]] = ...) -> None: ...

class IssueStreamItem(_message.Message):
    __slots__ = ("id", "request")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    id: int
    request: IssueCredentialRequest
    def __init__(self, id: _Optional[int] = ..., request: _Optional[_Union[IssueCredentialRequest, _Mapping]] = ...) -> None: ...

class IssueStreamResponse(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[IssueStreamAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[IssueStreamAnswer, _Mapping]]] = ...) -> None: ...

class IssueStreamAnswer(_message.Message):
    __slots__ = ("id", "response", "status", "error_code", "error_message", "error_field")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_FIELD_NUMBER: _ClassVar[int]
    id: int
    response: Credential
    status: int
    error_code: str
    error_message: str
    error_field: str
    def __init__(self, id: _Optional[int] = ..., response: _Optional[_Union[Credential, _Mapping]] = ..., status: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., error_field: _Optional[str] = ...) -> None: ...
