"""The ``ecert`` command: API keys against a real SQLite store, issue/verify against a real gateway.

The CLI blocks (urllib, asyncio.run), so it runs in a worker thread while the suite's event loop
keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ecert import cli
from ecert.cli import commands, photos
from ecert.rules.access import hash_key
from ecert.store import open_store
from testkit.samples import SAMPLES, driving_licence


async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
async def store_uri(tmp_path):
    """A fresh SQLite store file holding one region."""
    uri = f"sqlite:///{tmp_path / 'ecert.db'}"
    store = await open_store(uri)
    await store.create_region("CN-ZJ", "浙江省")
    await store.close()
    return uri


def _all_rows(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    finally:
        conn.close()


# -- apikey create -------------------------------------------------------------------------------

async def test_apikey_create_prints_key_last_and_stores_only_its_hash(capsys, store_uri):
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "agency", "--region", "CN-ZJ",
                                 "--label", "Zhejiang DMV", "--store", store_uri)
    assert rc == 0, err
    lines = out.rstrip("\n").splitlines()
    key = lines[-1]
    assert key.startswith("ek_") and key == key.strip() and " " not in key
    assert "agency" in lines[0] and "CN-ZJ" in lines[0]
    assert all(key not in line for line in lines[:-1])

    store = await open_store(store_uri)
    try:
        doc = await store.get_apikey(hash_key(key))
    finally:
        await store.close()
    assert doc is not None and doc["role"] == "agency" and doc["region"] == "CN-ZJ"
    assert doc["key_id"] in lines[0]
    rows = _all_rows(Path(store_uri[len("sqlite:///"):]))
    assert hash_key(key) in rows and key not in rows


async def test_apikey_create_uses_ecert_store_uri_by_default(capsys, store_uri, monkeypatch):
    monkeypatch.setenv("ECERT_STORE_URI", store_uri)
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "hotel")
    assert rc == 0, err
    key = out.splitlines()[-1]
    store = await open_store(store_uri)
    try:
        assert (await store.get_apikey(hash_key(key)))["role"] == "hotel"
    finally:
        await store.close()


@pytest.mark.parametrize("argv, message", [
    (["--role", "bogus"], "role must be one of"),
    (["--role", "agency"], "--region"),
    (["--role", "agency", "--region", "CN-XX"], "unknown region CN-XX"),
])
async def test_apikey_create_rejects_bad_input(capsys, store_uri, argv, message):
    rc, out, err = await run_cli(capsys, "apikey", "create", *argv, "--store", store_uri)
    assert rc == 2
    assert message in err and out == ""


async def test_apikey_create_without_a_store_says_to_start_the_suite(capsys, tmp_path):
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "admin",
                                 "--store", f"sqlite:///{tmp_path / 'missing.db'}")
    assert rc == 2 and "make run" in err
    assert not (tmp_path / "missing.db").exists()


async def test_the_store_commands_find_the_store_alike(capsys, tmp_path, monkeypatch):
    """``apikey create`` and ``audit verify``: --store, else ECERT_STORE_URI, else var/ecert.db; a
    SQLite file that is not there is the same usage mistake, and none is made."""
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    monkeypatch.chdir(tmp_path)
    for argv, env, uri in ((["--store", missing], "sqlite:///elsewhere.db", missing), ([], missing, missing),
                           ([], None, commands.DEFAULT_STORE)):
        if env:
            monkeypatch.setenv("ECERT_STORE_URI", env)
        else:
            monkeypatch.delenv("ECERT_STORE_URI", raising=False)
        said = set()
        for command in (["apikey", "create", "--role", "admin"], ["audit", "verify", "--region", "CN-ZJ"]):
            rc, out, err = await run_cli(capsys, *command, *argv)
            assert rc == 2 and out == "" and f"(from {uri})" in err, (command, err)
            said.add(err)
        assert len(said) == 1, said
    assert list(tmp_path.iterdir()) == []


async def test_cli_runs_as_a_module(store_uri):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ecert.cli", "apikey", "create", "--role", "integrator", "--store", store_uri,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines()[-1].startswith("ek_")


# -- issue / verify against the gateway ----------------------------------------------------------

async def issue(capsys, url, key, fields_file, *extra) -> tuple[str, str]:
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence",
                                 "--fields", str(fields_file), "--url", url, "--key", key, *extra)
    assert rc == 0, err
    qr_text = next(line for line in out.splitlines() if line.startswith("EC1:"))
    return qr_text, out


async def test_issue_then_verify(capsys, url, keys, fields_file, tmp_path):
    qr_text, out = await issue(capsys, url, keys["agency_zj"], fields_file, "--valid-days", "30")
    assert "id:" in out and "status:" in out and "valid" in out
    assert "█" in out  # the QR drawn in the terminal

    rc, out, err = await run_cli(capsys, "verify", qr_text, "--url", url, "--key", keys["police"],
                                 "--purpose", "roadside_driver_check")
    assert rc == 0, err
    assert "VALID" in out and "王小明" in out and "cn.driving_licence" in out and "C1" in out

    rc, out, err = await run_cli(capsys, "verify", qr_text, "--json", "--url", url, "--key", keys["police"])
    assert rc == 0, err
    answer = json.loads(out)
    assert answer["result"] == "VALID" and answer["credential"]["region"] == "CN-ZJ"
    assert answer["fields"]["licence_class"] == "C1"

    resident = tmp_path / "resident.json"
    resident.write_text(json.dumps(SAMPLES["cn.resident_id"], ensure_ascii=False), encoding="utf-8")
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.resident_id", "--no-qr",
                                 "--fields", str(resident), "--url", url, "--key", keys["agency_zj"])
    assert rc == 0, err
    id_card = next(line for line in out.splitlines() if line.startswith("EC1:"))
    rc, out, err = await run_cli(capsys, "verify", id_card, "--url", url, "--key", keys["hotel"],
                                 "--purpose", "hotel_check_in")
    assert rc == 0, err
    assert "VALID" in out and "张三" in out and "cn.resident_id" in out
    assert "上海市公安局徐汇分局" not in out  # a hotel does not see the issuing authority


async def test_issue_without_qr_and_idempotent_request_id(capsys, url, keys, fields_file):
    first, out = await issue(capsys, url, keys["agency_zj"], fields_file, "--no-qr", "--request-id", "cli-test-1")
    assert "█" not in out
    again, _ = await issue(capsys, url, keys["agency_zj"], fields_file, "--no-qr", "--request-id", "cli-test-1")
    assert again == first


async def test_issue_from_stdin(capsys, url, keys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(driving_licence())))
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence",
                                 "--fields", "-", "--no-qr", "--url", url, "--key", keys["agency_zj"])
    assert rc == 0, err
    assert "EC1:" in out


async def test_verify_reads_file_and_stdin(capsys, url, keys, fields_file, tmp_path, monkeypatch):
    qr_text, _ = await issue(capsys, url, keys["agency_zj"], fields_file, "--no-qr")
    qr_file = tmp_path / "qr.txt"
    qr_file.write_text(qr_text + "\n")
    rc, out, err = await run_cli(capsys, "verify", "--file", str(qr_file), "--url", url, "--key", keys["police"])
    assert rc == 0 and "VALID" in out, err
    monkeypatch.setattr(sys, "stdin", io.StringIO(qr_text + "\n"))
    rc, out, err = await run_cli(capsys, "verify", "-", "--url", url, "--key", keys["police"])
    assert rc == 0 and "VALID" in out, err


async def test_verify_invalid_payload_exits_1(capsys, url, keys):
    rc, out, err = await run_cli(capsys, "verify", "EC1:XYZ", "--url", url, "--key", keys["hotel"])
    assert rc == 1
    assert "BASE45_INVALID" in out


async def test_errors_are_shown_as_code_and_message(capsys, url, keys, fields_file):
    rc, out, err = await run_cli(capsys, "verify", "EC1:ABC", "--url", url, "--key", "ek_wrong")
    assert rc == 3 and "UNAUTHENTICATED:" in err
    rc, out, err = await run_cli(capsys, "issue", "--region", "CN-SH", "--type", "cn.driving_licence",
                                 "--fields", str(fields_file), "--url", url, "--key", keys["agency_zj"])
    assert rc == 3 and "FORBIDDEN:" in err
    rc, out, err = await run_cli(capsys, "verify", "EC1:ABC", "--url", url)
    assert rc == 2 and "ECERT_API_KEY" in err


async def test_connection_refused_suggests_make_run(capsys, keys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, out, err = await run_cli(capsys, "verify", "EC1:ABC", "--url", f"http://127.0.0.1:{port}",
                                 "--key", keys["hotel"])
    assert rc == 3 and "make run" in err


@contextlib.contextmanager
def _gateway_answering(status: int, body: bytes, content_type: str):
    """A stand-in for the gateway on a free port that answers every request alike (its URL)."""
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _refused_url() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_photo_get_refuses_a_bad_digest_before_any_call(capsys, tmp_path):
    out_file = tmp_path / "photo.jpg"
    for digest in ("not-a-digest", "a" * 63, "g" * 64, "a" * 65):
        rc, out, err = await run_cli(capsys, "photo", "get", digest, "--out", str(out_file),
                                     "--url", _refused_url(), "--key", "ek_x")
        assert rc == 2 and "64 hex digits" in err and "cannot reach" not in err, (digest, err)
    assert not out_file.exists()


async def test_photo_commands_meet_the_gateway_s_answers_as_every_command_does(capsys, tmp_path, monkeypatch):
    """``ecert photo`` makes its calls through the CLI's one HTTP call: the same messages for an
    answer that is not JSON, a refusal, a gateway that does not answer, and a refused connection."""
    picture = tmp_path / "portrait.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    upload = ["photo", "upload", str(picture), "--key", "ek_x", "--url"]
    with _gateway_answering(201, b"<html>a proxy's page</html>", "text/html") as url:
        rc, _, err = await run_cli(capsys, *upload, url)
        assert rc == 3 and "the gateway answered something that is not JSON" in err, err
        rc, _, verify_err = await run_cli(capsys, "verify", "EC1:X", "--key", "ek_x", "--url", url)
        assert rc == 3 and verify_err == err
    refusal = json.dumps({"error": {"code": "FORBIDDEN", "message": "no"}}).encode()
    with _gateway_answering(403, refusal, "application/json") as url:
        rc, _, err = await run_cli(capsys, *upload, url)
        assert rc == 3 and err == "ecert: FORBIDDEN: no\n"
    monkeypatch.setattr(photos, "TIMEOUT", 1.0)
    with socket.socket() as silent:  # connects (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        rc, _, err = await run_cli(capsys, "photo", "get", "a" * 64, "--out", str(tmp_path / "p.jpg"),
                                   "--key", "ek_x", "--url", url)
    assert rc == 3 and err == f"ecert: the gateway at {url} did not answer within 1 s\n"
    url = _refused_url()
    rc, _, err = await run_cli(capsys, *upload, url)
    assert rc == 3 and "connection refused" in err and "make run" in err


async def test_type_publish(capsys, url, keys, tmp_path):
    doc = {"id": "test.cli_permit", "version": 1, "name": "CLI test permit",
           "schema": {"type": "object", "additionalProperties": False, "required": ["name"],
                      "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 64}}},
           "disclosure": {"hotel": ["name"], "traffic_police": ["name"], "integrator": ["name"]}}
    good = tmp_path / "type.json"
    good.write_text(json.dumps(doc))
    rc, out, err = await run_cli(capsys, "type", "publish", str(good), "--url", url, "--key", keys["admin"])
    assert rc == 0, err
    assert "test.cli_permit" in out

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    rc, out, err = await run_cli(capsys, "type", "publish", str(bad), "--url", url, "--key", keys["admin"])
    assert rc == 2 and "not valid JSON" in err
    rc, out, err = await run_cli(capsys, "type", "publish", str(good), "--url", url, "--key", keys["hotel"])
    assert rc == 3 and "FORBIDDEN:" in err


async def test_rules_show_and_change_through_the_gateway(capsys, url, keys):
    rc, out, err = await run_cli(capsys, "rules", "show", "--url", url, "--key", keys["hotel"])
    assert rc == 0, err
    assert "recognition rules of trust list v" in out
    assert "hotel_check_in" in out and "cn.residence_permit, cn.resident_id" in out
    assert any(line.split()[:1] == ["*"] and "CN-AH, CN-JS, CN-SH, CN-ZJ" in line for line in out.splitlines())
    rc, out, err = await run_cli(capsys, "rules", "show", "--json", "--url", url, "--key", keys["hotel"])
    before = json.loads(out)
    assert before["purposes"]["business_check"] == ["cn.business_licence"]

    admin = ("--url", url, "--key", keys["admin"])
    try:
        rc, out, err = await run_cli(capsys, "rules", "set-types", "business_check", "cn.business_licence",
                                     "cn.resident_id", *admin)
        assert rc == 0, err
        assert out.strip() == (f"business_check accepts cn.business_licence, cn.resident_id "
                               f"(trust list v{before['trust_list_version'] + 1})")
        rc, out, err = await run_cli(capsys, "rules", "set-recognition", "*", "CN-SH", "CN-ZJ", *admin)
        assert rc == 0, err
        assert out.strip() == (f"callers bound to no region recognise credentials of CN-SH, CN-ZJ "
                               f"(trust list v{before['trust_list_version'] + 2})")
        rc, out, err = await run_cli(capsys, "rules", "set-types", "business_check", "--none", *admin)
        assert rc == 0 and out.startswith("business_check accepts nothing"), err
        rc, out, err = await run_cli(capsys, "rules", "show", "--json", "--url", url, "--key", keys["police"])
        shown = json.loads(out)
        assert shown["purposes"]["business_check"] == [] and shown["recognition"]["*"] == ["CN-SH", "CN-ZJ"]
        assert shown["trust_list_version"] == before["trust_list_version"] + 3
    finally:
        await run_cli(capsys, "rules", "set-types", "business_check", *before["purposes"]["business_check"], *admin)
        await run_cli(capsys, "rules", "set-recognition", "*", *before["recognition"]["*"], *admin)
    rc, out, err = await run_cli(capsys, "rules", "show", "--json", "--url", url, "--key", keys["hotel"])
    after = json.loads(out)
    assert {k: after[k] for k in ("purposes", "recognition")} == {k: before[k] for k in ("purposes", "recognition")}


@pytest.mark.parametrize("argv, status, message", [
    (["set-types", "sightseeing", "cn.resident_id"], 2, "PURPOSE_UNKNOWN:"),
    (["set-types", "general", "cn.passport"], 2, "TYPE_UNKNOWN:"),
    (["set-recognition", "CN-QH", "CN-SH"], 2, "REGION_UNKNOWN:"),
    (["set-recognition", "CN-SH", "CN-QH"], 2, "REGION_UNKNOWN:"),
    (["set-types", "general"], 2, "--none"),
    (["set-types", "general", "cn.resident_id", "--none"], 2, "not both"),
])
async def test_rule_changes_that_are_refused_say_why(capsys, url, keys, argv, status, message):
    rc, out, err = await run_cli(capsys, "rules", *argv, "--url", url, "--key", keys["admin"])
    assert rc == status and message in err and out == ""


async def test_only_an_admin_changes_the_rules(capsys, url, keys):
    rc, out, err = await run_cli(capsys, "rules", "set-recognition", "*", "--none", "--url", url,
                                 "--key", keys["agency_zj"])
    assert rc == 3 and "FORBIDDEN:" in err


async def test_qr(capsys):
    rc, out, err = await run_cli(capsys, "qr", "EC1:NCFOXN%TS")
    assert rc == 0 and "█" in out
    rc, out, err = await run_cli(capsys, "qr", "lower case is not alphanumeric")
    assert rc == 2 and err
