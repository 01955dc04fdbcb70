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
    __slots__ = ("uri", "signed", "iat")
    URI_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    uri: str
    signed: bytes
    iat: int
    def __init__(self, uri: _Optional[str] = ..., signed: _Optional[bytes] = ..., iat: _Optional[int] = ...) -> None: ...

class HeldStatusList(_message.Message):
    __slots__ = ("uri", "iat")
    URI_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    uri: str
    iat: int
    def __init__(self, uri: _Optional[str] = ..., iat: _Optional[int] = ...) -> None: ...

class GetStatusListsRequest(_message.Message):
    __slots__ = ("held", "all", "since", "from_shard")
    HELD_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    FROM_SHARD_FIELD_NUMBER: _ClassVar[int]
    held: _containers.RepeatedCompositeFieldContainer[HeldStatusList]
    all: bool
    since: int
    from_shard: int
    def __init__(self, held: _Optional[_Iterable[_Union[HeldStatusList, _Mapping]]] = ..., all: _Optional[bool] = ..., since: _Optional[int] = ..., from_shard: _Optional[int] = ...) -> None: ...

class StatusLists(_message.Message):
    __slots__ = ("lists", "unknown", "next_shard", "version")
    LISTS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    NEXT_SHARD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    lists: _containers.RepeatedCompositeFieldContainer[StatusList]
    unknown: _containers.RepeatedScalarFieldContainer[str]
    next_shard: int
    version: str
    def __init__(self, lists: _Optional[_Iterable[_Union[StatusList, _Mapping]]] = ..., unknown: _Optional[_Iterable[str]] = ..., next_shard: _Optional[int] = ..., version: _Optional[str] = ...) -> None: ...

class RotateSigningKeyRequest(_message.Message):
    __slots__ = ("principal", "region", "request_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    region: str
    request_id: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., region: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RefreshKeysRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class SigningKeyInfo(_message.Message):
    __slots__ = ("kid", "retired_kid", "nbf", "exp", "status")
    KID_FIELD_NUMBER: _ClassVar[int]
    RETIRED_KID_FIELD_NUMBER: _ClassVar[int]
    NBF_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    kid: str
    retired_kid: str
    nbf: int
    exp: int
    status: str
    def __init__(self, kid: _Optional[str] = ..., retired_kid: _Optional[str] = ..., nbf: _Optional[int] = ..., exp: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class CreatePresentationRequest(_message.Message):
    __slots__ = ("principal", "id", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    id: str
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class PresentationRef(_message.Message):
    __slots__ = ("principal", "id", "token_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    id: str
    token_id: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., id: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class Presentation(_message.Message):
    __slots__ = ("token", "expires_at", "token_id", "purpose", "issued_at", "credential_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: int
    token_id: str
    purpose: str
    issued_at: int
    credential_id: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[int] = ..., token_id: _Optional[str] = ..., purpose: _Optional[str] = ..., issued_at: _Optional[int] = ..., credential_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("result", "credential", "detail", "document")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    result: str
    credential: Credential
    detail: str
    document: _common_pb2.DocumentDate
    def __init__(self, result: _Optional[str] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ..., detail: _Optional[str] = ..., document: _Optional[_Union[_common_pb2.DocumentDate, _Mapping]] = ...) -> None: ...

class IssueStreamRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[IssueStreamItem]
    def __init__(self, items: _Optional[_Iterable[_Union[IssueStreamItem, _Mapping]]] = ...) -> None: ...

class IssueStreamItem(_message.Message):
    __slots__ = ("id", "request", "request_id", "traceparent")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    request: IssueCredentialRequest
    request_id: str
    traceparent: str
    def __init__(self, id: _Optional[int] = ..., request: _Optional[_Union[IssueCredentialRequest, _Mapping]] = ..., request_id: _Optional[str] = ..., traceparent: _Optional[str] = ...) -> None: ...

class IssueStreamResponse(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[IssueStreamAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[IssueStreamAnswer, _Mapping]]] = ...) -> None: ...

class IssueStreamAnswer(_message.Message):
    __slots__ = ("id", "response", "status", "error_code", "error_message", "error_field", "error_detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: int
    response: Credential
    status: int
    error_code: str
    error_message: str
    error_field: str
    error_detail: bytes
    def __init__(self, id: _Optional[int] = ..., response: _Optional[_Union[Credential, _Mapping]] = ..., status: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., error_field: _Optional[str] = ..., error_detail: _Optional[bytes] = ...) -> None: ...

class PutPhotoRequest(_message.Message):
    __slots__ = ("principal", "image")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    image: bytes
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., image: _Optional[bytes] = ...) -> None: ...

class PhotoRef(_message.Message):
    __slots__ = ("digest", "created", "media_type", "width", "height")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    digest: str
    created: bool
    media_type: str
    width: int
    height: int
    def __init__(self, digest: _Optional[str] = ..., created: _Optional[bool] = ..., media_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class GetPhotoRequest(_message.Message):
    __slots__ = ("principal", "digest", "credential_id", "without_image", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    WITHOUT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    digest: str
    credential_id: str
    without_image: bool
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., digest: _Optional[str] = ..., credential_id: _Optional[str] = ..., without_image: _Optional[bool] = ..., purpose: _Optional[str] = ...) -> None: ...

class Photo(_message.Message):
    __slots__ = ("digest", "media_type", "image", "width", "height")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    digest: str
    media_type: str
    image: bytes
    width: int
    height: int
    def __init__(self, digest: _Optional[str] = ..., media_type: _Optional[str] = ..., image: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class AccessRecord(_message.Message):
    __slots__ = ("actor", "purpose", "action", "ids", "credential_ids", "results", "ats")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_IDS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ATS_FIELD_NUMBER: _ClassVar[int]
    actor: _common_pb2.Principal
    purpose: str
    action: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    credential_ids: _containers.RepeatedScalarFieldContainer[str]
    results: _containers.RepeatedScalarFieldContainer[str]
    ats: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, actor: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., purpose: _Optional[str] = ..., action: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., credential_ids: _Optional[_Iterable[str]] = ..., results: _Optional[_Iterable[str]] = ..., ats: _Optional[_Iterable[int]] = ...) -> None: ...

class RecordAccessRequest(_message.Message):
    __slots__ = ("principal", "records")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    records: _containers.RepeatedCompositeFieldContainer[AccessRecord]
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., records: _Optional[_Iterable[_Union[AccessRecord, _Mapping]]] = ...) -> None: ...

class RecordAccessResponse(_message.Message):
    __slots__ = ("recorded", "duplicates", "refused")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    duplicates: int
    refused: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, recorded: _Optional[int] = ..., duplicates: _Optional[int] = ..., refused: _Optional[_Iterable[str]] = ...) -> None: ...

class TrailEntry(_message.Message):
    __slots__ = ("id", "seq", "region", "credential_id", "at", "action", "actor_org", "actor_key_id", "actor_role", "actor_region", "purpose", "result", "prev_hash", "hash")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_REGION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    id: str
    seq: int
    region: str
    credential_id: str
    at: int
    action: str
    actor_org: str
    actor_key_id: str
    actor_role: str
    actor_region: str
    purpose: str
    result: str
    prev_hash: str
    hash: str
    def __init__(self, id: _Optional[str] = ..., seq: _Optional[int] = ..., region: _Optional[str] = ..., credential_id: _Optional[str] = ..., at: _Optional[int] = ..., action: _Optional[str] = ..., actor_org: _Optional[str] = ..., actor_key_id: _Optional[str] = ..., actor_role: _Optional[str] = ..., actor_region: _Optional[str] = ..., purpose: _Optional[str] = ..., result: _Optional[str] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class ListAccessRequest(_message.Message):
    __slots__ = ("principal", "credential_id", "after", "limit")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    credential_id: str
    after: int
    limit: int
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., credential_id: _Optional[str] = ..., after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAccessResponse(_message.Message):
    __slots__ = ("entries", "next", "more")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[TrailEntry]
    next: int
    more: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[TrailEntry, _Mapping]]] = ..., next: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ("principal", "type", "status", "issued_from", "issued_before", "holder_id", "limit", "cursor", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FROM_FIELD_NUMBER: _ClassVar[int]
    ISSUED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    type: str
    status: str
    issued_from: int
    issued_before: int
    holder_id: str
    limit: int
    cursor: str
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., type: _Optional[str] = ..., status: _Optional[str] = ..., issued_from: _Optional[int] = ..., issued_before: _Optional[int] = ..., holder_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class CredentialSummary(_message.Message):
    __slots__ = ("id", "region", "type", "version", "issued_at", "expires_at", "status", "display_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    region: str
    type: str
    version: int
    issued_at: int
    expires_at: int
    status: str
    display_id: str
    def __init__(self, id: _Optional[str] = ..., region: _Optional[str] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., issued_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., status: _Optional[str] = ..., display_id: _Optional[str] = ...) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials", "next_cursor")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[CredentialSummary]
    next_cursor: str
    def __init__(self, credentials: _Optional[_Iterable[_Union[CredentialSummary, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
