"""``make bench``: a human table, then one JSON line with every figure of this run.

Everything runs on this machine: the pipeline in this process, the load figures against
the real suite started as separate processes on loopback (stopped afterwards), the large
trust-list figures in a process of their own. ``ECERT_BENCH_SECONDS`` sets the length of
each measurement (default 5); ``ECERT_BENCH_ONLY=pipeline,large,load,scan,trail,presentations,photos,quotas,hsm,replicas`` picks parts
(``status``, the status lists at 300 M credentials, is not run by default: ``make bench-status``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

from . import pipeline

TARGETS = {"status_rate_ratio": 0.9, "pipeline_ratio": 0.8, "gateway_ratio": 0.8, "batch_ratio": 0.6, "issue_per_s": 1500,
           "large_rate_ratio": 0.9, "trail_single_ratio": 0.9, "trail_batch_ratio": 0.9}
LABELS = [
    ("raw_verify_per_s", "raw ECDSA P-256 verify (cryptography, 1 core) /s"),
    ("pipeline_verify_per_s", "EC1 pipeline, text to verified claims (1 core) /s"),
    ("pipeline_ratio", "pipeline / raw"),
    ("gateway_rps", "gateway POST /v1/verifications, 64 connections, req/s"),
    ("gateway_p50_ms", "  p50 ms"),
    ("gateway_p99_ms", "  p99 ms (target <= 100)"),
    ("floor_rps", "transport floor (bare aiohttp + 1 trivial gRPC call) req/s"),
    ("gateway_ratio", "gateway / floor"),
    ("batch_verify_per_s", "batch verification (1,000 a request), payloads/s"),
    ("batch_verify_per_s_per_core", "  per core of CPU spent by gateway + verifier"),
    ("batch_raw_verify_per_s", "  raw ECDSA verify /s, in rounds alternating with the batches"),
    ("batch_ratio", "batch per core / raw (median of the rounds' ratios)"),
    ("issue_per_s", "issuance over gRPC, 64 clients, durable, /s"),
    ("large_rss_mb", "verifier RSS with 10,000 keys + 1,000,000 statuses, MB"),
    ("large_rate_ratio", "rate with the large lists / small lists"),
    ("scan_decode_per_s", "QR picture decodes /s"),
    ("scan_verify_per_s", "verifications from pictures /s"),
    ("trail_single_rps", "single verification with the trail (each check delivered to its region), req/s"),
    ("trail_off_single_rps", "  the same with the trail off (ECERT_TRAIL=0), alternating rounds, req/s"),
    ("trail_single_ratio", "  on / off (the time to deliver what a round left counted)"),
    ("trail_single_cpu_ratio", "  on / off per CPU second of all the suite's processes"),
    ("trail_batch_per_s", "batch verification with the trail, payloads/s"),
    ("trail_off_batch_per_s", "  with the trail off, payloads/s"),
    ("trail_batch_ratio", "  on / off (the delivery counted)"),
    ("trail_batch_per_core_ratio", "  on / off per core of CPU spent by gateway + verifier"),
    ("trail_batch_cpu_ratio", "  on / off per CPU second of all the suite's processes"),
    ("trail_single_issuer_us", "the issuing region's CPU a check recorded, single verifications, us"),
    ("trail_batch_issuer_us", "  the same, batches, us"),
    ("trail_append_cpu_us", "  its append alone, in one process (bench.trail_append), CPU us an entry"),
    ("presentation_round_trips_per_s", "show codes: made + resolved across regions through the gateway /s"),
    ("presentation_p50_ms", "  round trip p50, ms"),
    ("presentation_p99_ms", "  round trip p99, ms"),
    ("photo_serve_per_s", "photos served through the gateway (another region's portrait) /s"),
    ("photo_not_modified_per_s", "  revalidations answered 304 /s"),
    ("photo_upload_per_s", "photo uploads (checked, re-encoded, stored once) /s"),
    ("status_publish_cold_s", "status lists, 300 M credentials in 287 shards: publish all cold, s"),
    ("status_publish_after_revocation_ms", "  publish after one revocation (one shard re-signed), ms"),
    ("status_publish_after_revocation_peak_mb", "  its peak memory, MB"),
    ("status_refresh_answer_kb", "  a verifier's refresh after it: answer KB (request in status_refresh_request_kb)"),
    ("status_full_download_kb", "  a full download of the region's lists, KB"),
    ("status_verifier_held_mb", "  verifier memory holding four such regions' lists, MB"),
    ("status_rate_ratio", "  verification rate with those lists / a small list"),
    ("quota_two_gateways_served", "quotas: 2,000 requests on one hotel key (600/min) over two gateways, served"),
    ("quota_two_gateways_refused", "  answered 429 QUOTA_EXCEEDED"),
    ("auth_wrong_keys_looked_at", "1,000 wrong keys from one address: looked at (401)"),
    ("auth_wrong_keys_refused", "  refused before being looked at (429)"),
    ("hsm_sign_file_per_s", "ES256 signatures, key in this process /s"),
    ("hsm_sign_token_per_s", "  key in a PKCS#11 token (SoftHSM2) /s"),
    ("hsm_sign_ratio", "  token / process (median of the alternating rounds)"),
    ("hsm_issue_file_per_s", "issuance over gRPC, 64 clients, key file /s"),
    ("hsm_issue_token_per_s", "  key in the token /s"),
    ("hsm_issue_ratio", "  token / file (median of the rounds; spread in hsm_issue_ratio_low/high)"),
    ("quota_counted_rate_ratio", "requests/s with a quota counted / with none (median of 5 rounds)"),
    ("replicas_1x1_rps", "replicas: 1 gateway, 1 verifier process, POST /v1/verifications req/s"),
    ("replicas_1x2_rps", "  1 gateway, 2 verifiers req/s"),
    ("replicas_1x2_ratio", "  2 verifiers / 1 (median of the alternating rounds; spread _low/_high)"),
    ("replicas_1x2_busiest_share", "  share of the calls the busier verifier got"),
    ("replicas_1x1_gateway_cpu_us", "  CPU per request, 1 x 1: gateway us"),
    ("replicas_1x1_verifier_cpu_us", "    verifier us"),
    ("replicas_1x2_gateway_cpu_us", "  CPU per request, 1 x 2: gateway us"),
    ("replicas_1x2_verifier_cpu_us", "    verifiers us"),
    ("replicas_2x2_rps", "  2 gateways (SO_REUSEPORT), 2 verifiers req/s"),
    ("replicas_2x2_ratio", "  2 gateways and 2 verifiers / 1 and 1"),
]


def main() -> int:
    seconds = float(os.environ.get("ECERT_BENCH_SECONDS", "5"))
    only = set(filter(None, os.environ.get("ECERT_BENCH_ONLY", "pipeline,large,load,scan,trail,presentations,photos,quotas,hsm,replicas").split(",")))
    results: dict = {}
    try:
        from ecert.format import _fast  # noqa: F401
        speedups = "C speed-ups built"
    except ImportError:
        speedups = "C speed-ups NOT built (pure Python: slower)"
    print(f"# ecert benchmark: {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores, {seconds:g} s per figure, {speedups}", flush=True)
    if "pipeline" in only or "load" in only:
        results.update(pipeline.measure(seconds))
    if "large" in only:
        out = subprocess.run([sys.executable, "-m", "bench.large", str(seconds)], capture_output=True, text=True,
                             check=True, timeout=600)
        results.update(json.loads(out.stdout.strip().splitlines()[-1]))
    if "load" in only:
        from . import load
        results.update(load.measure(seconds))
    if "scan" in only:
        try:
            from . import scan
        except ImportError:
            scan = None
        if scan is not None:
            results.update(scan.measure(seconds))
    if "trail" in only:  # two copies of the suite, with and without the trail (bench/trail.py)
        from . import trail, trail_append
        results.update(trail.measure(seconds * 2))
        results.update(trail_append.measure())
    if "presentations" in only:  # show codes: made through the gateway, verified by another region's hotel
        from . import presentations
        results.update(presentations.measure(seconds))
    if "photos" in only:  # the photo library: serving (wrk), revalidation and uploads
        from . import photos
        results.update(photos.measure(seconds))
    if "quotas" in only:  # quotas shared by two gateway processes, the failed-key limit, the cost of counting
        from . import quotas
        results.update(quotas.measure(seconds))
    if "hsm" in only:  # issuance with the key in a PKCS#11 token (SoftHSM2) against the key file
        from . import hsm
        results.update(hsm.measure(seconds))
    if "replicas" in only:  # one and two verifier processes (and two gateways) behind the gateway's port
        from . import replicas
        results.update(replicas.measure(seconds))
    if "status" in only:  # population-scale status lists (bench/status_scale.py), in a process of its own
        out = subprocess.run([sys.executable, "-m", "bench.status_scale", str(seconds)], capture_output=True,
                             text=True, check=True, timeout=1200)
        results.update(json.loads(out.stdout.strip().splitlines()[-1]))
    width = max(len(label) for _, label in LABELS)
    for key, label in LABELS:
        if key in results:
            target = TARGETS.get(key)
            mark = "" if target is None else ("  ok" if results[key] >= target else f"  below target {target}")
            value = results[key]
            shown = f"{value:,.3f}" if isinstance(value, float) and value < 10 else f"{value:,}"
            print(f"{label:<{width}}  {shown:>10}{mark}")
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
