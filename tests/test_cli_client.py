"""The typed client (:mod:`ecert.client`) and the ``ecert`` command built on it, against a real
gateway (the session's suite) and against stand-ins that answer what a gateway should not: exit
codes 0/1/2/3, an issuance retried after a timeout making one credential, ``--json`` everywhere,
one-line errors for input that cannot be sent, ``--version``.

Both block (urllib), so they run in a worker thread while the suite's event loop serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import ecert
from ecert import cli
from ecert import client as gw
from ecert.cli import common
from testkit.samples import driving_licence


async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _free_port_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@contextlib.contextmanager
def _stand_in(handle):
    """An HTTP server on a free port whose every request is ``handle(handler)`` (its URL)."""
    class Handler(BaseHTTPRequestHandler):
        def _any(self):
            handle(self)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _answer(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json",
            headers: dict | None = None) -> None:
    h.rfile.read(int(h.headers.get("Content-Length") or 0))
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


def _answering(status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
    return _stand_in(lambda h: _answer(h, status, body, content_type, headers))


def _error(code: str, message: str, **extra) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "request_id": "rid-1", **extra}}).encode()


# -- the client against the gateway ----------------------------------------------------------------

async def test_client_issues_reads_verifies_and_revokes(url, keys, suite):
    agency = gw.Client(url, keys["agency_zj"])
    police = gw.Client(url, keys["police"])
    c = await asyncio.to_thread(agency.issue, "CN-ZJ", "cn.driving_licence", driving_licence(), valid_days=30)
    assert c["status"] == "valid" and c["region"] == "CN-ZJ" and c["qr_text"].startswith("EC1:")
    assert (await asyncio.to_thread(agency.credential, c["id"]))["id"] == c["id"]
    assert (await asyncio.to_thread(agency.credential, c["id"].lower()))["id"] == c["id"]
    r = await asyncio.to_thread(police.verify, c["qr_text"])
    assert r["result"] == "VALID"

    assert (await asyncio.to_thread(agency.suspend, c["id"])) == {"id": c["id"], "status": "suspended"}
    assert (await asyncio.to_thread(agency.reinstate, c["id"]))["status"] == "valid"
    assert (await asyncio.to_thread(agency.revoke, c["id"]))["status"] == "revoked"
    await suite.refresh()
    assert (await asyncio.to_thread(police.verify, c["qr_text"]))["result"] == "REVOKED"


async def test_client_errors_carry_the_gateway_s_code_status_and_request_id(url, keys):
    with pytest.raises(gw.AuthError) as refused:
        await asyncio.to_thread(gw.Client(url, "ek_wrong").verify, "EC1:ABC")
    assert refused.value.status == 401 and refused.value.code == "UNAUTHENTICATED" and refused.value.request_id
    assert refused.value.could_not_ask
    hotel = gw.Client(url, keys["hotel"])
    with pytest.raises(gw.AuthError) as forbidden:
        await asyncio.to_thread(hotel.issue, "CN-ZJ", "cn.driving_licence", driving_licence())
    assert forbidden.value.status == 403 and forbidden.value.code == "FORBIDDEN"
    with pytest.raises(gw.NotFoundError) as missing:
        await asyncio.to_thread(gw.Client(url, keys["agency_zj"]).credential, "A" * 26)
    assert missing.value.status == 404 and not missing.value.could_not_ask
    with pytest.raises(gw.ApiError) as bad:
        await asyncio.to_thread(gw.Client(url, keys["police"]).verify, "EC1:ABC", "sightseeing")
    assert bad.value.status == 400 and bad.value.code == "PURPOSE_UNKNOWN" and not bad.value.could_not_ask


async def test_client_reads_each_kind_of_answer_as_its_error():
    with _answering(422, _error("SCHEMA_INVALID", "2 fields", fields=["sex", "name"],
                                errors=[{"field": "sex", "code": "REQUIRED", "message": "m1"},
                                        {"field": "name", "code": "REQUIRED", "message": "m2"}])) as u:
        with pytest.raises(gw.ApiError) as e:
            await asyncio.to_thread(gw.Client(u, "k").verify, "EC1:X")
    assert type(e.value) is gw.ApiError and e.value.status == 422 and e.value.request_id == "rid-1"
    assert e.value.fields == ["sex", "name"] and [x["field"] for x in e.value.errors] == ["sex", "name"]
    with _answering(429, _error("QUOTA_EXCEEDED", "slow down"), headers={"Retry-After": "7"}) as u:
        with pytest.raises(gw.QuotaExceeded) as e:
            await asyncio.to_thread(gw.Client(u, "k").regions)
    assert e.value.retry_after == 7 and e.value.could_not_ask
    with _answering(502, b"<html>bad gateway</html>", "text/html", {"X-Request-Id": "px"}) as u:
        with pytest.raises(gw.ServerError) as e:
            await asyncio.to_thread(gw.Client(u, "k").regions)
    assert e.value.code == "HTTP_ERROR" and e.value.message == "HTTP 502: <html>bad gateway</html>"
    assert e.value.request_id == "px"
    with _answering(200, b"<html>a login page</html>", "text/html") as u:
        with pytest.raises(gw.BadAnswer):
            await asyncio.to_thread(gw.Client(u, "k").regions)
    with pytest.raises(gw.Unreachable) as e:
        await asyncio.to_thread(gw.Client(_free_port_url(), "k").regions)
    assert "connection refused" in str(e.value) and not e.value.timed_out
    for bad_url in ("ftp://x", "127.0.0.1:8080", "http://", "http://h:port"):
        with pytest.raises(gw.BadUrl):
            gw.Client(bad_url)


async def test_client_gives_up_on_an_answer_that_trickles_past_the_deadline():
    """Each read waits at most the timeout, and the whole answer too: a byte every 50 ms never
    lets the socket time out, yet the call ends once ``timeout`` has passed."""
    stop = threading.Event()

    def trickle(h):
        h.rfile.read(int(h.headers.get("Content-Length") or 0))
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(b"[")
        while not stop.is_set():
            try:
                h.wfile.write(b"1,")
                h.wfile.flush()
            except OSError:
                return
            stop.wait(0.05)

    with _stand_in(trickle) as u:
        try:
            with pytest.raises(gw.Unreachable) as e:
                await asyncio.to_thread(gw.Client(u, "k", timeout=0.5).regions)
        finally:
            stop.set()
    assert e.value.timed_out and "did not answer within 0.5 s" in str(e.value)


async def test_client_gives_up_on_headers_that_trickle_past_the_deadline():
    """The deadline holds before the body too: a status line and then a header byte every 50 ms
    (never a socket timeout, up to 100 header lines of 64 KiB each) ends the call at ``timeout``."""
    stop = threading.Event()

    def trickle(h):
        h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.is_set():
                h.wfile.write(b"a")
                h.wfile.flush()
                stop.wait(0.05)
        except OSError:
            return

    with _stand_in(trickle) as u:
        try:
            with pytest.raises(gw.Unreachable) as e:
                await asyncio.wait_for(asyncio.to_thread(gw.Client(u, "k", timeout=0.5).regions), 10)
        finally:
            stop.set()
    assert e.value.timed_out and "did not answer within 0.5 s" in str(e.value)


class _LosingFirstAnswer:
    """A proxy in front of the gateway that forwards every request, but holds back the gateway's
    answer to the first until the client has given up and sent the request again, then drops it:
    the first issuance happened, its answer was lost."""

    def __init__(self, target: str):
        self.target, self.bodies, self.answers = target, [], []
        self.second = threading.Event()

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.bodies.append(json.loads(body))
        n = len(self.bodies)
        if n > 1:
            self.second.set()
        req = urllib.request.Request(self.target + h.path, data=body, method=h.command,
                                     headers={k: v for k, v in h.headers.items() if k.lower() != "host"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
        self.answers.append(json.loads(raw))
        if n == 1:
            self.second.wait(30)
            h.close_connection = True
            return  # no answer at all: the client timed out long ago
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)


async def test_an_issuance_retried_after_a_timeout_makes_one_credential(url, keys, suite):
    proxy = _LosingFirstAnswer(url)
    slept = []
    with _stand_in(proxy) as u:
        agency = gw.Client(u, keys["agency_zj"], timeout=0.5, sleep=slept.append)
        c = await asyncio.to_thread(agency.issue, "CN-ZJ", "cn.driving_licence", driving_licence())
    assert len(proxy.bodies) == 2 and slept == [gw.BACKOFF]
    request_id = proxy.bodies[0]["request_id"]
    assert request_id and proxy.bodies[1]["request_id"] == request_id
    assert proxy.answers[0]["id"] == proxy.answers[1]["id"] == c["id"]  # the one issued first, not a second
    stored = await suite.store.find_credential_by_request("CN-ZJ", request_id)
    assert stored is not None and (stored.get("id") or stored.get("_id")) == c["id"]


async def test_the_cli_retries_an_issuance_with_its_generated_request_id(capsys, url, keys, fields_file, monkeypatch):
    monkeypatch.setattr(common, "TIMEOUT", 0.5)
    monkeypatch.setattr(common, "BACKOFF", 0.0)
    proxy = _LosingFirstAnswer(url)
    with _stand_in(proxy) as u:
        rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence",
                                     "--fields", str(fields_file), "--no-qr", "--url", u, "--key", keys["agency_zj"])
    assert rc == 0, err
    request_id = proxy.bodies[0]["request_id"]
    assert [b["request_id"] for b in proxy.bodies] == [request_id, request_id]
    assert f"request id {request_id}" in err
    assert f"id:      {proxy.answers[0]['id']}" in out


async def test_issue_gives_up_after_its_attempts_and_names_the_request_id(capsys, fields_file, monkeypatch):
    calls = []

    def busy(h):
        calls.append(json.loads(h.rfile.read(int(h.headers.get("Content-Length") or 0)))["request_id"])
        h.send_response(503)
        body = _error("REGION_UNAVAILABLE", "CN-ZJ is not answering")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with _stand_in(busy) as u:
        client = gw.Client(u, "k", sleep=lambda s: None)
        with pytest.raises(gw.ServerError):
            await asyncio.to_thread(client.issue, "CN-ZJ", "t", {}, request_id="mine-1")
        assert calls == ["mine-1"] * gw.ISSUE_ATTEMPTS
        calls.clear()
        monkeypatch.setattr(common, "BACKOFF", 0.0)
        rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "t", "--fields", str(fields_file),
                                     "--request-id", "mine-2", "--url", u, "--key", "k")
    assert rc == 3 and out == ""
    assert calls == ["mine-2"] * gw.ISSUE_ATTEMPTS
    assert err.count("\n") == 1 and "REGION_UNAVAILABLE" in err and "--request-id mine-2" in err


# -- exit codes --------------------------------------------------------------------------------------

async def test_exit_codes_0_1_2_3(capsys, url, keys, fields_file):
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence", "--no-qr",
                                 "--fields", str(fields_file), "--url", url, "--key", keys["agency_zj"])
    assert rc == 0, err
    qr_text = next(line for line in out.splitlines() if line.startswith("EC1:"))
    police = ("--url", url, "--key", keys["police"])
    assert (await run_cli(capsys, "verify", qr_text, *police))[0] == 0           # valid
    assert (await run_cli(capsys, "verify", "EC1:XYZ", *police))[0] == 1         # verified, not valid
    assert (await run_cli(capsys, "verify", *police))[0] == 2                    # usage: nothing to verify
    assert (await run_cli(capsys, "verify", qr_text, "--bogus", *police))[0] == 2
    assert (await run_cli(capsys, "verify", qr_text, "--purpose", "sightseeing", *police))[0] == 2  # 400
    assert (await run_cli(capsys, "credential", "get", "A" * 26, "--url", url,
                          "--key", keys["agency_zj"]))[0] == 2                  # 404: no such credential
    assert (await run_cli(capsys, "verify", qr_text, "--url", url, "--key", "ek_wrong"))[0] == 3    # 401
    assert (await run_cli(capsys, "issue", "--region", "CN-SH", "--type", "cn.driving_licence", "--fields",
                          str(fields_file), "--url", url, "--key", keys["agency_zj"]))[0] == 3  # 403
    rc, _, err = await run_cli(capsys, "verify", qr_text, "--url", _free_port_url(), "--key", "k")
    assert rc == 3 and "make run" in err                                         # nothing listening
    with _answering(503, _error("UNAVAILABLE", "not ready")) as u:
        assert (await run_cli(capsys, "verify", qr_text, "--url", u, "--key", "k"))[0] == 3   # 5xx
    with _answering(200, b"<html/>", "text/html") as u:
        assert (await run_cli(capsys, "region", "list", "--url", u, "--key", "k"))[0] == 3   # not a gateway
    assert (await run_cli(capsys, "region", "list", "--url", "ftp://x", "--key", "k"))[0] == 2  # bad URL


# -- --json ------------------------------------------------------------------------------------------

async def test_json_everywhere_parses(capsys, url, keys, fields_file, store_file):
    agency = ("--url", url, "--key", keys["agency_zj"], "--json")
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence",
                                 "--fields", str(fields_file), *agency)
    assert rc == 0, err
    c = json.loads(out)
    assert c["status"] == "valid" and "█" not in out
    rc, out, _ = await run_cli(capsys, "credential", "get", c["id"], *agency)
    assert json.loads(out)["id"] == c["id"]
    rc, out, _ = await run_cli(capsys, "verify", c["qr_text"], "--url", url, "--key", keys["police"], "--json")
    assert rc == 0 and json.loads(out)["result"] == "VALID"
    rc, out, _ = await run_cli(capsys, "present", c["id"], *agency)
    assert rc == 0 and json.loads(out)["token"].startswith("EP1:")
    rc, out, _ = await run_cli(capsys, "credential", "suspend", c["id"], *agency)
    assert rc == 0 and json.loads(out) == {"id": c["id"], "status": "suspended"}
    for argv, member in ((["type", "list"], "types"), (["region", "list"], "regions"),
                         (["rules", "show"], "purposes")):
        rc, out, err = await run_cli(capsys, *argv, *agency)
        assert rc == 0 and member in json.loads(out), (argv, err)
    rc, out, _ = await run_cli(capsys, "type", "show", "cn.resident_id", *agency)
    assert json.loads(out)["id"] == "cn.resident_id"
    rc, out, _ = await run_cli(capsys, "qr", c["qr_text"], "--json")
    assert rc == 0 and json.loads(out)["text"] == c["qr_text"]
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "hotel", "--store", store_file, "--json")
    assert rc == 0, err
    assert json.loads(out)["secret"].startswith("ek_") and json.loads(out)["role"] == "hotel"
    rc, out, err = await run_cli(capsys, "audit", "verify", "--region", "CN-ZJ", "--store", store_file, "--json")
    assert rc == 0 and json.loads(out)["intact"] is True, err

    rc, out, err = await run_cli(capsys, "credential", "get", "A" * 26, *agency)   # an error: JSON too
    assert rc == 2 and json.loads(out)["error"]["code"] == "NOT_FOUND" and json.loads(out)["error"]["request_id"]
    assert err.startswith("ecert: NOT_FOUND: ") and err.count("\n") == 1


@pytest.fixture
async def store_file(tmp_path):
    from ecert.store import open_store
    uri = f"sqlite:///{tmp_path / 'ecert.db'}"
    store = await open_store(uri)
    await store.create_region("CN-ZJ", "浙江省")
    await store.close()
    return uri


# -- one-line errors for input that cannot be sent ---------------------------------------------------

@pytest.mark.parametrize("text, said", [
    ("hello", "a QR text starts with EC1:"),
    ("EC1:lower", "character 5 ('l')"),
    ("EC1:" + "A" * 3000, "a QR code holds at most"),
])
async def test_qr_of_text_it_cannot_encode_is_one_line(capsys, text, said):
    rc, out, err = await run_cli(capsys, "qr", text)
    assert rc == 2 and out == "" and said in err and err.count("\n") == 1
    assert "Proposal" not in err and "mode" not in err  # not the library's own words


async def test_input_files_that_cannot_be_sent_are_one_line(capsys, tmp_path):
    base = ["issue", "--region", "CN-ZJ", "--type", "t", "--url", _free_port_url(), "--key", "k", "--fields"]
    (tmp_path / "bad.json").write_text("{\"name\": 'x'}")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "latin1.json").write_bytes(b'{"name": "\xe9"}')
    for name, said in (("bad.json", "is not valid JSON (the credential's fields): Expecting value at line 1, column 10"),
                       ("list.json", "must hold a JSON object (the credential's fields), not list"),
                       ("latin1.json", "it is not UTF-8 text"),
                       ("missing.json", "cannot read"),
                       ("", "cannot read")):
        rc, out, err = await run_cli(capsys, *base, str(tmp_path / name))
        assert rc == 2 and said in err and err.count("\n") == 1 and "Errno" not in err, (name, err)
        assert "cannot reach" not in err  # refused before any call
    rc, _, err = await run_cli(capsys, *base[:-1], "--fields", str(tmp_path / "missing.json"))
    assert err.rstrip().endswith("missing.json: no such file")
    rc, _, err = await run_cli(capsys, "type", "publish", str(tmp_path / "list.json"), "--key", "k")
    assert rc == 2 and "a certificate type" in err
    (tmp_path / "partial.json").write_text('{"id": "x.y"}')
    rc, _, err = await run_cli(capsys, "type", "publish", str(tmp_path / "partial.json"), "--key", "k",
                               "--url", _free_port_url())
    assert rc == 2 and "lacks name, schema" in err


async def test_text_that_cannot_be_sent_is_refused_before_any_call(capsys):
    """What invalid bytes on a command line decode to (lone surrogates), in a body, a path or a
    query, and a key that cannot go in a header: one line, exit 2, nothing sent."""
    calls = []
    with _stand_in(lambda h: calls.append(h.path) or _answer(h, 200, b"{}")) as u:
        for argv in (["verify", "EC1:X", "--purpose", "a\udcff"], ["credential", "get", "\udcff"],
                     ["credential", "list", "--type", "\udcff"], ["rules", "set-types", "general", "x\udcff"]):
            rc, out, err = await run_cli(capsys, *argv, "--url", u, "--key", "k")
            assert rc == 2 and "not UTF-8" in err and err.count("\n") == 1 and out == "", (argv, err)
        rc, out, err = await run_cli(capsys, "region", "list", "--url", u, "--key", "ek_中")
        assert rc == 2 and "API key" in err
    assert calls == []


async def test_a_gateway_message_on_several_lines_is_printed_on_one(capsys):
    with _answering(400, _error("INVALID_REQUEST", "first\nsecond\r\nthird")) as u:
        rc, out, err = await run_cli(capsys, "region", "list", "--url", u, "--key", "k")
    assert rc == 2 and err == "ecert: INVALID_REQUEST: first second third\n"


# -- the rest ----------------------------------------------------------------------------------------

async def test_version(capsys):
    rc, out, err = await run_cli(capsys, "--version")
    assert rc == 0 and out.strip() == f"ecert {ecert.__version__}"


async def test_help_names_every_command_and_the_exit_codes(capsys):
    rc, out, _ = await run_cli(capsys, "--help")
    assert rc == 0
    for command in ("apikey", "issue", "verify", "present", "credential", "photo", "qr", "audit", "type",
                    "region", "rules"):
        assert f"    {command}" in out
    assert "3 could not ask" in " ".join(out.split())
    for argv in (["credential", "--help"], ["apikey", "--help"], ["type", "--help"]):
        rc, out, _ = await run_cli(capsys, *argv)
        assert rc == 0
    rc, out, _ = await run_cli(capsys, "apikey", "create", "--help")
    text = " ".join(out.split())
    assert "--store" in text and "first admin key" in text and "through the gateway" in text


async def test_type_show_prints_a_file_that_publishes(capsys, url, keys, tmp_path):
    rc, out, _ = await run_cli(capsys, "type", "show", "cn.resident_id", "--url", url, "--key", keys["hotel"])
    assert rc == 0 and out.startswith("cn.resident_id v") and "shown to hotel:" in out
    rc, out, _ = await run_cli(capsys, "type", "show", "cn.resident_id", "--json", "--url", url, "--key", keys["hotel"])
    doc = json.loads(out) | {"id": "test.cli_copy", "version": 1, "name": "a copy"}
    (tmp_path / "copy.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    rc, out, err = await run_cli(capsys, "type", "publish", str(tmp_path / "copy.json"), "--url", url,
                                 "--key", keys["admin"])
    assert rc == 0 and "published test.cli_copy v1" in out, err
    rc, out, _ = await run_cli(capsys, "type", "list", "--url", url, "--key", keys["hotel"])
    assert any(line.split()[:2] == ["test.cli_copy", "1"] for line in out.splitlines())
    rc, _, err = await run_cli(capsys, "type", "show", "no.such_type", "--url", url, "--key", keys["hotel"])
    assert rc == 2 and "no certificate type no.such_type" in err


async def test_region_list(capsys, url, keys):
    rc, out, err = await run_cli(capsys, "region", "list", "--url", url, "--key", keys["hotel"])
    assert rc == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert {"CN-SH", "CN-ZJ"} <= set(rows)


async def test_the_cli_keeps_no_http_code_of_its_own():
    """Every call goes through :mod:`ecert.client`: no module of the command opens a connection."""
    for path in Path(cli.__file__).parent.glob("*.py"):
        if path.name == "devsuite.py":  # the launcher probes its processes' ports
            continue
        text = path.read_text(encoding="utf-8")
        assert "urllib" not in text and "http.client" not in text, path.name


async def test_a_client_from_the_environment(monkeypatch):
    monkeypatch.setenv("ECERT_URL", "http://example.invalid:9/")
    monkeypatch.setenv("ECERT_API_KEY", "ek_env")
    c = gw.Client.from_env(timeout=2)
    assert (c.url, c.key, c.timeout) == ("http://example.invalid:9", "ek_env", 2)
    monkeypatch.delenv("ECERT_URL")
    assert gw.Client.from_env().url == gw.DEFAULT_URL


async def test_retries_wait_longer_each_time(monkeypatch):
    slept = []
    with socket.socket() as silent:  # connects (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        c = gw.Client(f"http://127.0.0.1:{silent.getsockname()[1]}", "k", timeout=0.2, issue_attempts=3,
                      backoff=0.25, sleep=slept.append)
        with pytest.raises(gw.Unreachable) as e:
            await asyncio.to_thread(c.issue, "CN-ZJ", "t", {})
    assert e.value.timed_out and slept == [0.25, 0.5]
