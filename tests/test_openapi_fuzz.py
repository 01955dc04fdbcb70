"""The gateway against its own OpenAPI document (schemathesis over ``/openapi.json``).

A real suite on port 0 (its own, so that what an admin's generated requests create or revoke
touches no other test), the document loaded from the running gateway, and for every operation
requests generated from it (valid and invalid ones, with an admin and a hotel key). Every answer
must be below 500, have a status the operation documents, a content type it documents, and a
body matching the documented schema.

``ECERT_OPENAPI_FUZZ_EXAMPLES`` sets the examples per operation, key and generation mode
(default 30: a few hundred requests per route in all); ``make openapi-fuzz`` runs it longer.
Generation is seeded (``ECERT_OPENAPI_FUZZ_SEED``, default fixed) so a failure can be replayed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
import requests
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.transport.prepare import get_exclude_headers  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app  # noqa: E402
from testkit.samples import driving_licence  # noqa: E402
from tests.harness import start_suite  # noqa: E402

EXAMPLES = int(os.environ.get("ECERT_OPENAPI_FUZZ_EXAMPLES") or 30)
SEED = int(os.environ.get("ECERT_OPENAPI_FUZZ_SEED") or 20240601)
REQUEST_TIMEOUT = 30.0
"""A client-side bound on every answer: a request that hangs is a failure, not a stuck test."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NO_ISSUER = "has no issuer online"
"""The message of the one 503 an admin's generated requests may rightly get: a call for a region it
created itself (``POST /v1/regions``), which has no issuer here (documented, not a fault)."""


def _no_issuer(response) -> bool:
    if response.status_code != 503:
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return error.get("code") == "REGION_UNAVAILABLE" and NO_ISSUER in error.get("message", "")
ROLES = ("admin", "hotel")


# -- lone surrogates --------------------------------------------------------------------------------
# What hypothesis never generates: a JSON string (a value or a member name) holding half a surrogate
# pair. Some cases get one put in (:func:`_with_lone_surrogate`); the run counts the requests sent so.

_SURROGATE = re.compile("[\ud800-\udfff]")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _holds_lone_surrogate(body: bytes | None) -> bool:
    """Whether ``body`` is JSON one of whose strings (names included) holds a lone surrogate (a proper
    ``\\ud83d\\ude00`` pair reads as one character and does not count)."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return False
    return any(_SURROGATE.search(s) for s in _strings(data))


# -- the run ---------------------------------------------------------------------------------------

@dataclass
class Failure:
    operation: str
    role: str
    mode: str
    status: int
    checks: tuple[str, ...]
    method: str
    url: str
    content_type: str | None
    body: bytes | None
    answer: str

    def key(self) -> tuple:
        """Failures with the same key are the same fault (kept once, counted)."""
        return self.operation, self.status, self.checks

    def __str__(self) -> str:
        body = (self.body or b"")[:300]
        return (f"{self.operation} [{self.role}, {self.mode}] -> {self.status} ({', '.join(self.checks)})\n"
                f"    request: {self.method} {self.url} content-type={self.content_type} body={body!r}\n"
                f"    answer:  {self.answer[:300]}")


@dataclass
class Run:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    per_operation: Counter = field(default_factory=Counter)
    failures: dict[tuple, Failure] = field(default_factory=dict)
    repeats: Counter = field(default_factory=Counter)
    lone_surrogates: int = 0  # requests whose JSON body held one

    def add(self, failure: Failure) -> None:
        self.repeats[failure.key()] += 1
        self.failures.setdefault(failure.key(), failure)


@dataclass
class Target:
    base_url: str
    keys: dict[str, str]
    credential_id: str
    qr_text: str
    kid: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def target(tmp_path_factory):
    """An own suite and gateway on port 0, a credential issued, its key id known."""
    suite = await start_suite(tmp_path_factory.mktemp("openapi-fuzz"))
    # every generated request comes from one address, the key-less ones too: not an attack; and
    # thousands on one key: no quota either
    cfg = dataclasses.replace(suite.gateway_config, auth_failures_per_minute=0, quotas={})
    server = TestServer(create_app(cfg, store=suite.store), host="127.0.0.1")
    await server.start_server()
    try:
        keys = {"admin": await suite.api_key("admin"), "hotel": await suite.api_key("hotel"),
                "agency": await suite.api_key("agency", "CN-ZJ")}
        base = str(server.make_url("")).rstrip("/")

        def issue() -> dict:
            r = requests.post(base + "/v1/credentials", timeout=REQUEST_TIMEOUT,
                              headers={"Authorization": f"Bearer {keys['agency']}"},
                              json={"region": "CN-ZJ", "type": "cn.driving_licence", "fields": driving_licence()})
            assert r.status_code == 201, r.text
            regions = requests.get(base + "/v1/regions", timeout=REQUEST_TIMEOUT,
                                   headers={"Authorization": f"Bearer {keys['admin']}"}).json()["regions"]
            return {"cred": r.json(), "kid": next(k["kid"] for g in regions if g["code"] == "CN-ZJ"
                                                  for k in g["keys"])}

        made = await asyncio.to_thread(issue)
        yield Target(base, keys, made["cred"]["id"], made["cred"]["qr_text"], made["kid"])
    finally:
        await server.close()
        await suite.close()


def _strategy(operation, mode: GenerationMode, t: Target):
    """Generated cases, some of them aimed at real records (a real credential id, region, key id
    and payload) so that the deeper paths are reached too, not only the early refusals."""
    generated = operation.as_strategy(generation_mode=mode)
    params = {p.name for p in operation.path_parameters}
    aimed = {k: v for k, v in {"id": t.credential_id, "code": "CN-ZJ", "kid": t.kid}.items() if k in params}
    strategies = [generated]
    if aimed:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=aimed))
    if mode is GenerationMode.POSITIVE and operation.path == "/v1/verifications":
        strategies.append(st.builds(
            lambda case, purpose: _with_body(case, {"payload": t.qr_text, "purpose": purpose}),
            operation.as_strategy(generation_mode=mode, media_type="application/json"), st.text(max_size=40)))
    if mode is GenerationMode.POSITIVE and operation.path == "/v1/verifications:batch":
        strategies.append(st.builds(
            lambda case, texts: _with_body(case, {"payloads": [t.qr_text, *texts]}),
            operation.as_strategy(generation_mode=mode), st.lists(st.text(max_size=60), max_size=5)))
    if mode is GenerationMode.NEGATIVE and operation.body:
        # what hypothesis never makes: a lone surrogate in one of the body's strings
        strategies.append(st.builds(_with_lone_surrogate, operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE, media_type="application/json"), st.randoms(use_true_random=False)))
    return st.one_of(strategies)


def _with_body(case, body):
    case.body = body
    return case


def _with_lone_surrogate(case, rnd):
    """``case`` with a lone surrogate put into one string of its JSON body (a value or a name)."""
    strings = _strings(case.body)
    if not strings:
        return case
    target, seen = rnd.randrange(len(strings)), [0]

    def edit(value):
        if isinstance(value, str):
            seen[0] += 1
            if seen[0] - 1 != target:
                return value
            i = rnd.randint(0, len(value))
            return value[:i] + chr(rnd.randint(0xD800, 0xDFFF)) + value[i:]
        if isinstance(value, dict):
            return {edit(k): edit(v) for k, v in value.items()}
        if isinstance(value, list):
            return [edit(v) for v in value]
        return value

    # sent as the JSON text (ASCII, the surrogate escaped), which schemathesis passes on unread
    case.body = json.dumps(edit(case.body)).encode()
    return case


def _fuzz_operation(operation, t: Target, run: Run) -> None:
    """``EXAMPLES`` cases per key and mode (fewer if the operation has fewer distinct ones)."""
    session = requests.Session()
    label = f"{operation.method.upper()} {operation.path}"
    for role in ROLES:
        headers = {"Authorization": f"Bearer {t.keys[role]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = _strategy(operation, mode, t)
            except Exception as err:  # an operation that admits no negative case, say
                if mode is GenerationMode.NEGATIVE:
                    continue
                raise AssertionError(f"{label}: no cases can be generated: {err}") from err

            @seed(SEED)
            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck), derandomize=False)
            @given(case=strategy)
            def one(case) -> None:
                # A negative case may leave the key out (the 401 path): tried with one role only.
                assume(role == ROLES[-1] or "Authorization" not in get_exclude_headers(case))
                try:
                    response = case.call(base_url=t.base_url, session=session, headers=headers,
                                         timeout=REQUEST_TIMEOUT)
                except requests.Timeout:
                    run.add(Failure(label, role, mode.value, 0, ("no answer within the deadline",),
                                    case.method, case.formatted_path, case.media_type, None, ""))
                    return
                run.requests += 1
                run.statuses[response.status_code] += 1
                run.per_operation[label] += 1
                body = response.request.body
                if isinstance(body, bytes) and _holds_lone_surrogate(body):
                    run.lone_surrogates += 1
                checks = [c for c in CHECKS if c is not not_a_server_error] if _no_issuer(response) else CHECKS
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except FailureGroup as group:
                    req = response.request
                    body = req.body.encode() if isinstance(req.body, str) else req.body
                    run.add(Failure(label, role, mode.value, response.status_code,
                                    tuple(sorted({type(f).__name__ for f in group.exceptions})),
                                    req.method, req.url, req.headers.get("Content-Type"), body,
                                    response.text))

            try:
                one()
            except Exception as err:  # generation failing for a mode the operation cannot make
                if mode is GenerationMode.NEGATIVE and "Unsatisfiable" in type(err).__name__:
                    continue
                raise
    session.close()


def _fuzz_all(doc: dict, t: Target) -> Run:
    schema = schemathesis.openapi.from_dict(doc)
    run = Run()
    for result in schema.get_all_operations():
        operation = result.ok()
        _fuzz_operation(operation, t, run)
    return run


@pytest.mark.asyncio(loop_scope="session")
async def test_every_operation_answers_as_documented(target):
    doc = await asyncio.to_thread(lambda: requests.get(target.base_url + "/openapi.json",
                                                       timeout=REQUEST_TIMEOUT).json())
    run = await asyncio.to_thread(_fuzz_all, doc, target)

    operations = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item}
    untried = operations - set(run.per_operation)
    summary = (f"{run.requests} requests over {len(run.per_operation)} operations; statuses "
               f"{dict(sorted(run.statuses.items()))}; {run.lone_surrogates} with a lone surrogate in the body; "
               f"{len(run.failures)} distinct failures")
    print(summary)
    assert not untried, f"operations never tried: {sorted(untried)}"
    assert run.requests >= len(operations) * 2, summary
    assert run.lone_surrogates > 0, summary

    report = "\n".join(f"{f}\n    seen {run.repeats[f.key()]} times" for f in run.failures.values())
    assert not report, f"{summary}\n{report}"


def test_only_lone_surrogates_are_counted_as_such():
    """The run's count of bodies with a lone surrogate (which must not be 0) counts no proper pair,
    no escaped backslash and no body that is not JSON."""
    assert _holds_lone_surrogate(json.dumps({"payload": "EC1:\ud800"}).encode())
    assert _holds_lone_surrogate(json.dumps({"\udfff": 1}).encode())
    assert _holds_lone_surrogate(json.dumps({"a": [{"b": ["x", "\udbff"]}]}).encode())
    assert not _holds_lone_surrogate(json.dumps({"payload": "EC1:\u00e9\U0001f600"}).encode())
    assert not _holds_lone_surrogate(rb'{"payload": "EC1:\\ud800"}')
    assert not _holds_lone_surrogate(b"--b\r\nContent-Disposition: form-data\r\n")
    assert not _holds_lone_surrogate(None)
