"""The README's commands, run as a newcomer would run them, against a running suite.

Every fenced ``sh`` block of README.md right after a ``<!-- tested -->`` line is taken, in order,
and run as one ``bash -euo pipefail`` script (variables set by one block are used by the next)
in a fresh folder where ``make run``'s processes (:mod:`ecert.cli.devsuite`) run on free ports:
the README's ``127.0.0.1:8080`` is rewritten to the gateway's port, ``.venv`` points at this
repository's, and ``portrait.jpg`` is a sample portrait. A block that fails names itself (its line
in README.md) and the script stops there.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from testkit import photos
from testkit.ports import free_ports as _free_ports
from tests.test_devsuite import banner

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = "<!-- tested -->"
START_TIMEOUT = 60
RUN_TIMEOUT = 180
EXPECTED = ("published example.boat_licence v1", "result:  VALID", "result:  NOT_ACCEPTED_FOR_PURPOSE",
            ": revoked (final", "key ", ": disabled")
"""Lines the README's tested blocks print (when the README marks the blocks it has now)."""
_FENCE = re.compile(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def marked_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, body)`` of each ``sh`` block right after a :data:`MARK` line (its line number, 1-based)."""
    blocks = []
    for m in _FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() == MARK:
            blocks.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return blocks


def script(blocks: list[tuple[int, str]], gateway_port: int) -> str:
    parts = ["set -euo pipefail"]
    for line, body in blocks:
        parts.append(f"echo '::: README.md line {line}' >&2")
        parts.append(body.replace("127.0.0.1:8080", f"127.0.0.1:{gateway_port}"))
    return "\n".join(parts) + "\necho '::: all blocks ran' >&2\n"


def test_the_marks_find_blocks():
    text = f"a\n{MARK}\n```sh\necho one\n```\n\n```sh\necho untested\n```\n{MARK}\n```sh\necho two\n```\n"
    assert marked_blocks(text) == [(3, "echo one\n"), (11, "echo two\n")]
    assert "127.0.0.1:9" in script([(1, "curl http://127.0.0.1:8080/x")], 9)


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "ecert").exists(), reason="the README runs .venv/bin/ecert")
async def test_the_readme_s_commands_run_against_a_suite(tmp_path):
    blocks = marked_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3, f"README.md marks {len(blocks)} sh blocks with {MARK}"
    registry, issuer_sh, issuer_zj, verifier, gateway = _free_ports(5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
    env.update(PYTHONPATH=str(ROOT), ECERT_REGISTRY_PORT=str(registry), ECERT_ISSUER_PORT_CN_SH=str(issuer_sh),
               ECERT_ISSUER_PORT_CN_ZJ=str(issuer_zj), ECERT_VERIFIER_PORT=str(verifier),
               ECERT_GATEWAY_PORT=str(gateway), LANG="C.UTF-8")
    env.pop("LC_ALL", None)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "portrait.jpg").write_bytes(photos.portrait(1))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ecert.cli.devsuite", cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                start_new_session=True)
    output: list[str] = []
    drain = None
    try:
        await asyncio.wait_for(banner(proc, output), START_TIMEOUT)
        drain = asyncio.ensure_future(proc.stdout.read())  # keep its pipe from filling
        run = await asyncio.create_subprocess_exec("bash", "-c", script(blocks, gateway), cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(run.communicate(), RUN_TIMEOUT)
        said = err.decode(errors="replace")
        where = [line for line in said.splitlines() if line.startswith("::: ")]
        assert run.returncode == 0 and where[-1] == "::: all blocks ran", (
            f"exit {run.returncode} in the block at {where[-1] if where else '?'}:\n"
            f"{said[-3000:]}\n--- stdout ---\n{out.decode(errors='replace')[-3000:]}")
        shown = out.decode()
        for expected in EXPECTED:  # what the README says its commands answer
            assert expected in shown, (expected, shown[-3000:])
    finally:
        if drain is not None and not drain.done():
            drain.cancel()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except asyncio.TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
