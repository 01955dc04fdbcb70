from ecertpb.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyRequest(_message.Message):
    __slots__ = ("principal", "payload", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    payload: str
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., payload: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class VerifiedCredential(_message.Message):
    __slots__ = ("id", "type", "version", "region", "issued_at", "expires_at", "display_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    version: int
    region: str
    issued_at: int
    expires_at: int
    display_id: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., region: _Optional[str] = ..., issued_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., display_id: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("result", "credential", "fields_json", "status_checked", "trust_list_version", "checked_at", "detail", "code_sha256", "warnings", "purpose", "document", "trust_list_stale", "trust_list_as_of", "status", "status_as_of")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CODE_SHA256_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_STALE_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_AS_OF_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_AS_OF_FIELD_NUMBER: _ClassVar[int]
    result: str
    credential: VerifiedCredential
    fields_json: str
    status_checked: bool
    trust_list_version: int
    checked_at: int
    detail: str
    code_sha256: str
    warnings: _containers.RepeatedCompositeFieldContainer[Warning]
    purpose: str
    document: _common_pb2.DocumentDate
    trust_list_stale: bool
    trust_list_as_of: int
    status: str
    status_as_of: int
    def __init__(self, result: _Optional[str] = ..., credential: _Optional[_Union[VerifiedCredential, _Mapping]] = ..., fields_json: _Optional[str] = ..., status_checked: _Optional[bool] = ..., trust_list_version: _Optional[int] = ..., checked_at: _Optional[int] = ..., detail: _Optional[str] = ..., code_sha256: _Optional[str] = ..., warnings: _Optional[_Iterable[_Union[Warning, _Mapping]]] = ..., purpose: _Optional[str] = ..., document: _Optional[_Union[_common_pb2.DocumentDate, _Mapping]] = ..., trust_list_stale: _Optional[bool] = ..., trust_list_as_of: _Optional[int] = ..., status: _Optional[str] = ..., status_as_of: _Optional[int] = ...) -> None: ...

class CacheStateRequest(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ...) -> None: ...

class CacheState(_message.Message):
    __slots__ = ("trust_list_version", "trust_list_iat", "trust_list_exp", "trust_list_refreshed_at", "trust_list_stale", "trust_list_failures", "root_kid", "status_lists", "status_bytes", "status_lists_on_disk", "oldest_status_as_of", "events", "outbox_pending_bytes")
    TRUST_LIST_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_IAT_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_EXP_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_STALE_FIELD_NUMBER: _ClassVar[int]
    TRUST_LIST_FAILURES_FIELD_NUMBER: _ClassVar[int]
    ROOT_KID_FIELD_NUMBER: _ClassVar[int]
    STATUS_LISTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATUS_LISTS_ON_DISK_FIELD_NUMBER: _ClassVar[int]
    OLDEST_STATUS_AS_OF_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_PENDING_BYTES_FIELD_NUMBER: _ClassVar[int]
    trust_list_version: int
    trust_list_iat: int
    trust_list_exp: int
    trust_list_refreshed_at: int
    trust_list_stale: bool
    trust_list_failures: int
    root_kid: str
    status_lists: int
    status_bytes: int
    status_lists_on_disk: int
    oldest_status_as_of: int
    events: _containers.RepeatedCompositeFieldContainer[CacheEvent]
    outbox_pending_bytes: int
    def __init__(self, trust_list_version: _Optional[int] = ..., trust_list_iat: _Optional[int] = ..., trust_list_exp: _Optional[int] = ..., trust_list_refreshed_at: _Optional[int] = ..., trust_list_stale: _Optional[bool] = ..., trust_list_failures: _Optional[int] = ..., root_kid: _Optional[str] = ..., status_lists: _Optional[int] = ..., status_bytes: _Optional[int] = ..., status_lists_on_disk: _Optional[int] = ..., oldest_status_as_of: _Optional[int] = ..., events: _Optional[_Iterable[_Union[CacheEvent, _Mapping]]] = ..., outbox_pending_bytes: _Optional[int] = ...) -> None: ...

class CacheEvent(_message.Message):
    __slots__ = ("list", "event", "count")
    LIST_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    list: str
    event: str
    count: int
    def __init__(self, list: _Optional[str] = ..., event: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class Warning(_message.Message):
    __slots__ = ("code", "field", "since")
    CODE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    code: str
    field: str
    since: str
    def __init__(self, code: _Optional[str] = ..., field: _Optional[str] = ..., since: _Optional[str] = ...) -> None: ...

class VerifyBatchRequest(_message.Message):
    __slots__ = ("principal", "payloads", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    PAYLOADS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    payloads: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., payloads: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ...) -> None: ...

class VerifyBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[VerifyResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[VerifyResponse, _Mapping]]] = ...) -> None: ...

class VerifyImageRequest(_message.Message):
    __slots__ = ("principal", "image", "purpose")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    image: bytes
    purpose: str
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., image: _Optional[bytes] = ..., purpose: _Optional[str] = ...) -> None: ...

class VerifyImageResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[VerifyResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[VerifyResponse, _Mapping]]] = ...) -> None: ...

class VerifyStreamRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[VerifyStreamItem]
    def __init__(self, items: _Optional[_Iterable[_Union[VerifyStreamItem, _Mapping]]] = ...) -> None: ...

class VerifyStreamItem(_message.Message):
    __slots__ = ("id", "request", "request_id", "traceparent")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    request: VerifyRequest
    request_id: str
    traceparent: str
    def __init__(self, id: _Optional[int] = ..., request: _Optional[_Union[VerifyRequest, _Mapping]] = ..., request_id: _Optional[str] = ..., traceparent: _Optional[str] = ...) -> None: ...

class VerifyStreamResponse(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[VerifyStreamAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[VerifyStreamAnswer, _Mapping]]] = ...) -> None: ...

class VerifyStreamAnswer(_message.Message):
    __slots__ = ("id", "response", "status", "error_code", "error_message", "error_field", "error_detail")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAIL_FIELD_NUMBER: _ClassVar[int]
    id: int
    response: VerifyResponse
    status: int
    error_code: str
    error_message: str
    error_field: str
    error_detail: bytes
    def __init__(self, id: _Optional[int] = ..., response: _Optional[_Union[VerifyResponse, _Mapping]] = ..., status: _Optional[int] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., error_field: _Optional[str] = ..., error_detail: _Optional[bytes] = ...) -> None: ...

class FetchStatusListsRequest(_message.Message):
    __slots__ = ("principal", "uri", "region", "since", "from_shard")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    FROM_SHARD_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    uri: str
    region: str
    since: int
    from_shard: int
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., uri: _Optional[str] = ..., region: _Optional[str] = ..., since: _Optional[int] = ..., from_shard: _Optional[int] = ...) -> None: ...

class FetchedStatusList(_message.Message):
    __slots__ = ("uri", "signed", "iat", "exp", "ttl")
    URI_FIELD_NUMBER: _ClassVar[int]
    SIGNED_FIELD_NUMBER: _ClassVar[int]
    IAT_FIELD_NUMBER: _ClassVar[int]
    EXP_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    uri: str
    signed: bytes
    iat: int
    exp: int
    ttl: int
    def __init__(self, uri: _Optional[str] = ..., signed: _Optional[bytes] = ..., iat: _Optional[int] = ..., exp: _Optional[int] = ..., ttl: _Optional[int] = ...) -> None: ...

class FetchedStatusLists(_message.Message):
    __slots__ = ("lists", "next_shard", "version")
    LISTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_SHARD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    lists: _containers.RepeatedCompositeFieldContainer[FetchedStatusList]
    next_shard: int
    version: str
    def __init__(self, lists: _Optional[_Iterable[_Union[FetchedStatusList, _Mapping]]] = ..., next_shard: _Optional[int] = ..., version: _Optional[str] = ...) -> None: ...

class OfflineCheck(_message.Message):
    __slots__ = ("id", "credential_id", "region", "result", "purpose", "checked_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    credential_id: str
    region: str
    result: str
    purpose: str
    checked_at: int
    def __init__(self, id: _Optional[str] = ..., credential_id: _Optional[str] = ..., region: _Optional[str] = ..., result: _Optional[str] = ..., purpose: _Optional[str] = ..., checked_at: _Optional[int] = ...) -> None: ...

class RecordOfflineChecksRequest(_message.Message):
    __slots__ = ("principal", "checks")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    principal: _common_pb2.Principal
    checks: _containers.RepeatedCompositeFieldContainer[OfflineCheck]
    def __init__(self, principal: _Optional[_Union[_common_pb2.Principal, _Mapping]] = ..., checks: _Optional[_Iterable[_Union[OfflineCheck, _Mapping]]] = ...) -> None: ...

class RecordOfflineChecksResponse(_message.Message):
    __slots__ = ("accepted", "duplicates", "ignored")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    ignored: int
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., ignored: _Optional[int] = ...) -> None: ...
