"""The containers' health probe (``python -m ecert.rpc.probe``, the verifier's among them): a
configuration it cannot use is one line and exit 2, never a traceback or the 1 of "not serving".
(That it speaks TLS to a serving verifier: tests/test_tls.py.)"""

from __future__ import annotations

from ecert.rpc import probe

_TLS = ("ECERT_TLS_CA", "ECERT_TLS_CERT", "ECERT_TLS_KEY")


def test_missing_tls_variables_are_named_in_one_line(monkeypatch, capsys):
    for name in _TLS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECERT_TLS_CERT", "/nowhere/cert.pem")
    assert probe.main(["127.0.0.1:1", "verifier"]) == 2
    err = capsys.readouterr().err
    assert err == "ecert.rpc.probe: missing environment variable(s): ECERT_TLS_CA, ECERT_TLS_KEY\n"


def test_unreadable_tls_files_are_one_line(monkeypatch, capsys, tmp_path):
    for name in _TLS:
        monkeypatch.setenv(name, str(tmp_path / f"{name.lower()}.pem"))
    assert probe.main(["127.0.0.1:1", "verifier"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecert.rpc.probe: TLS CA certificate: cannot read ") and err.count("\n") == 1
    assert "Traceback" not in err
