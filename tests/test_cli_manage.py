"""``ecert apikey`` (through the gateway and straight into the store) and ``ecert credential
list``, against the session's suite: the commands an operator and an agency manage with.

The CLI blocks (urllib), so it runs in a worker thread while the suite's event loop serves.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys

from ecert import cli
from testkit.samples import citizen_id, driving_licence


async def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = await asyncio.to_thread(cli.main, list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


async def _refused_soon(capsys, url: str, key: str, refused: bool) -> bool:
    """Whether ``key`` is refused (or taken) within 3 s: gateway processes see a key's change
    within a second (their check of the store's key generation), the CLI's part is done before."""
    for _ in range(30):
        rc, _, err = await run_cli(capsys, "region", "list", "--url", url, "--key", key)
        if (rc == 3 and "UNAUTHENTICATED" in err) == refused:
            return True
        await asyncio.sleep(0.1)
    return False


async def _listed(capsys, url: str, key: str) -> dict[str, dict]:
    rc, out, err = await run_cli(capsys, "apikey", "list", "--json", "--url", url, "--key", key)
    assert rc == 0, err
    return {k["id"]: k for k in json.loads(out)["keys"]}


async def test_an_admin_manages_a_key_s_whole_life(capsys, url, keys):
    admin = ("--url", url, "--key", keys["admin"])
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "hotel", "--org", "上海外滩酒店",
                                 "--label", "front desk", "--purpose", "hotel_check_in", *admin)
    assert rc == 0, err
    lines = out.rstrip("\n").splitlines()
    secret = lines[-1]
    assert secret.startswith("ek_") and all(secret not in line for line in lines[:-1])
    assert "hotel key" in lines[0] and "'上海外滩酒店'" in lines[0] and "hotel_check_in" in lines[0]
    key_id = lines[0].split("hotel key ", 1)[1].split(",", 1)[0]
    assert await _refused_soon(capsys, url, secret, refused=False)

    listed = await _listed(capsys, url, keys["admin"])
    assert listed[key_id]["status"] == "active" and listed[key_id]["org"] == "上海外滩酒店"
    rc, out, _ = await run_cli(capsys, "apikey", "list", *admin)
    assert secret not in out and any(line.split()[:2] == [key_id, "hotel"] for line in out.splitlines())

    rc, out, err = await run_cli(capsys, "apikey", "disable", key_id, *admin)
    assert rc == 0 and out.strip() == f"key {key_id}: disabled", err
    assert (await _listed(capsys, url, keys["admin"]))[key_id]["status"] == "disabled"
    assert await _refused_soon(capsys, url, secret, refused=True)
    rc, out, err = await run_cli(capsys, "apikey", "enable", key_id, "--json", *admin)
    assert rc == 0 and json.loads(out)["status"] == "active", err
    assert await _refused_soon(capsys, url, secret, refused=False)

    rc, out, err = await run_cli(capsys, "apikey", "rotate", key_id, *admin)
    assert rc == 0, err
    rotated = out.rstrip("\n").splitlines()
    new_secret = rotated[-1]
    assert new_secret.startswith("ek_") and new_secret != secret and "the old secret is taken until" in rotated[0]
    assert await _refused_soon(capsys, url, new_secret, refused=False)
    assert await _refused_soon(capsys, url, secret, refused=False)  # the overlap

    rc, out, err = await run_cli(capsys, "apikey", "delete", key_id, *admin)
    assert rc == 0 and "deleted" in out, err
    assert key_id not in await _listed(capsys, url, keys["admin"])
    assert await _refused_soon(capsys, url, new_secret, refused=True)
    rc, out, err = await run_cli(capsys, "apikey", "disable", key_id, *admin)
    assert rc == 2 and "NOT_FOUND" in err, err


async def test_an_agency_makes_keys_for_its_own_region_only(capsys, url, keys):
    agency = ("--url", url, "--key", keys["agency_zj"])
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "agency", "--region", "CN-ZJ", *agency)
    assert rc == 0 and out.splitlines()[-1].startswith("ek_"), err
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "agency", "--region", "CN-SH", *agency)
    assert rc == 3 and "FORBIDDEN" in err and out == ""
    rc, out, err = await run_cli(capsys, "apikey", "list", "--url", url, "--key", keys["hotel"])
    assert rc == 3 and "FORBIDDEN" in err


async def test_the_two_ways_to_create_a_key_are_not_mixed(capsys, url, keys, tmp_path, monkeypatch):
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "admin", "--store",
                                 f"sqlite:///{tmp_path / 'x.db'}", "--key", keys["admin"], "--url", url)
    assert rc == 2 and "not both" in err and out == ""
    monkeypatch.setenv("ECERT_API_KEY", keys["admin"])  # a key in the environment: through the gateway
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "integrator", "--url", url, "--json")
    assert rc == 0, err
    made = json.loads(out)
    assert made["secret"] == made["key"] and made["role"] == "integrator" and made["status"] == "active"
    assert made["id"] in await _listed(capsys, url, keys["admin"])


async def test_store_keys_have_the_gateway_s_shape(capsys, tmp_path):
    from ecert.store import open_store
    uri = f"sqlite:///{tmp_path / 'ecert.db'}"
    store = await open_store(uri)
    await store.create_region("CN-ZJ", "浙江省")
    await store.close()
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "hotel", "--store", uri, "--json",
                                 "--expires", "2099-01-01T00:00:00Z", "--purpose", "hotel_check_in")
    assert rc == 0, err
    made = json.loads(out)
    assert made["expires_at"] == "2099-01-01T00:00:00Z" and made["purposes"] == ["hotel_check_in"]
    assert made["created_at"].endswith("Z") and made["secret"].startswith("ek_") and "key_id" not in made
    rc, out, err = await run_cli(capsys, "apikey", "create", "--role", "hotel", "--store", uri,
                                 "--expires", "2001-01-01T00:00:00Z")
    assert rc == 2 and "expires_at" in err


async def test_an_agency_lists_what_it_issued_page_by_page(capsys, url, keys, monkeypatch, tmp_path):
    agency = ("--url", url, "--key", keys["agency_zj"])
    holder = citizen_id("33010619880214551")
    ids = []
    for n in range(3):
        fields = driving_licence(id_number=holder, birth_date="1988-02-14", sex="男", file_number=f"33010099{n:04d}")
        path = tmp_path / f"fields-{n}.json"
        path.write_text(json.dumps(fields, ensure_ascii=False), encoding="utf-8")
        rc, out, err = await run_cli(capsys, "issue", "--region", "CN-ZJ", "--type", "cn.driving_licence",
                                     "--fields", str(path), "--json", *agency)
        assert rc == 0, err
        ids.append(json.loads(out)["id"])

    monkeypatch.setattr(sys, "stdin", io.StringIO(holder.lower() + "\n"))  # out of the shell's history
    rc, out, err = await run_cli(capsys, "credential", "list", "--holder-id", "-", "--limit", "2", "--json", *agency)
    assert rc == 0, err
    first = json.loads(out)
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert holder not in out  # summaries: no fields
    monkeypatch.setattr(sys, "stdin", io.StringIO(holder))
    rc, out, err = await run_cli(capsys, "credential", "list", "--holder-id", "-", "--limit", "2",
                                 "--cursor", first["next_cursor"], "--json", *agency)
    second = json.loads(out)
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    paged = [c["id"] for c in first["items"] + second["items"]]  # newest first, each once
    assert sorted(paged) == sorted(ids)
    monkeypatch.setattr(sys, "stdin", io.StringIO(holder))
    rc, out, err = await run_cli(capsys, "credential", "list", "--holder-id", "-", "--limit", "1", "--all", *agency)
    assert rc == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == paged
    assert "3 credentials" in err and "--cursor" not in err

    rc, out, err = await run_cli(capsys, "credential", "revoke", ids[0], *agency)
    assert rc == 0 and f"{ids[0]}: revoked" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(holder))
    rc, out, err = await run_cli(capsys, "credential", "list", "--holder-id", "-", "--status", "revoked",
                                 "--json", *agency)
    assert [c["id"] for c in json.loads(out)["items"]] == ids[:1]

    rc, out, err = await run_cli(capsys, "credential", "list", "--url", url, "--key", keys["admin"])
    assert rc == 2 and "region" in err  # an admin names the region
    rc, out, err = await run_cli(capsys, "credential", "list", "--region", "CN-ZJ", "--limit", "1", "--url", url,
                                 "--key", keys["admin"])
    assert rc == 0 and "more: add --cursor" in err, err
    rc, out, err = await run_cli(capsys, "credential", "list", "--url", url, "--key", keys["hotel"])
    assert rc == 3 and "FORBIDDEN" in err
    rc, out, err = await run_cli(capsys, "credential", "list", "--issued-after", "yesterday", *agency)
    assert rc == 2 and "issued_after" in err
