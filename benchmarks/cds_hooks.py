"""CDS Hooks latency benchmark: a real server on loopback, requests built from the shared fixtures.

    python benchmarks/cds_hooks.py                  # starts `mtmrules serve` on a free loopback port
    python benchmarks/cds_hooks.py --url http://127.0.0.1:8080   # or measure a running server
    python benchmarks/cds_hooks.py --json

Sends patient-view requests for every Synthea fixture patient plus one synthetic patient with 10
active medications (the target case: p95 < 100 ms), sequentially, and prints p50/p95 and requests/s.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "synthea-r4"
TEN_MEDS = ["warfarin 5 mg daily", "ibuprofen 400 mg three times daily", "simvastatin 40 mg at bedtime",
            "amlodipine 10 mg daily", "lisinopril 20 mg daily", "metformin 1000 mg twice daily",
            "omeprazole 20 mg daily", "diphenhydramine 25 mg at bedtime", "sertraline 50 mg daily", "tramadol 50 mg every 6 hours"]


def fixture_request(path: Path) -> dict:
    resources = [e["resource"] for e in json.loads(path.read_text())["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    others = [r for r in resources if r["resourceType"] != "Patient"]
    return {"hook": "patient-view", "hookInstance": f"bench-{patient['id']}",
            "context": {"userId": "Practitioner/1", "patientId": patient["id"]},
            "prefetch": {"patient": patient, "everything": {"resourceType": "Bundle", "type": "searchset",
                                                             "entry": [{"resource": r} for r in others]}}}


def ten_med_request() -> dict:
    patient = {"resourceType": "Patient", "id": "bench-10", "gender": "female", "birthDate": "1948-03-02"}
    meds = [{"resourceType": "MedicationStatement", "id": f"ms{i}", "status": "active", "subject": {"reference": "Patient/bench-10"},
             "medicationCodeableConcept": {"text": m.split(" ", 2)[0] + " " + m.split(" ", 2)[1] + " mg"},
             "dosage": [{"text": m}]} for i, m in enumerate(TEN_MEDS)]
    labs = [{"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/bench-10"},
             "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}]}, "effectiveDateTime": "2026-11-01",
             "valueQuantity": {"value": 1.4, "unit": "mg/dL"}}]
    return {"hook": "patient-view", "hookInstance": "bench-10", "context": {"userId": "Practitioner/1", "patientId": "bench-10"},
            "prefetch": {"patient": patient, "meds": {"resourceType": "Bundle", "type": "searchset",
                                                        "entry": [{"resource": r} for r in meds + labs]}}}


def post(url: str, body: dict) -> float:
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/cds-services/mtmrules-patient-view", data=data,
                                 headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as response:
        response.read()
        assert response.status == 200
    return (time.perf_counter() - start) * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        port = free_port()
        db = Path(tempfile.mkdtemp()) / "bench.sqlite"
        server = subprocess.Popen([sys.executable, "-m", "mtmrules.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                   "--db", str(db)], cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/cds-services", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
    try:
        fixtures = [fixture_request(p) for p in sorted(FIXTURES.glob("*.json"))]
        ten = ten_med_request()
        post(url, ten)  # warm-up
        all_ms, ten_ms = [], []
        start = time.perf_counter()
        for _ in range(args.rounds):
            for body in fixtures:
                all_ms.append(post(url, body))
            for _ in range(10):
                ten_ms.append(post(url, ten))
        elapsed = time.perf_counter() - start
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    result = {"requests": len(all_ms) + len(ten_ms), "requests_per_s": round((len(all_ms) + len(ten_ms)) / elapsed, 1),
              "fixtures_p50_ms": round(statistics.median(all_ms), 2), "fixtures_p95_ms": round(percentile(all_ms, 0.95), 2),
              "ten_meds_p50_ms": round(statistics.median(ten_ms), 2), "ten_meds_p95_ms": round(percentile(ten_ms, 0.95), 2)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['requests']} patient-view requests over loopback, {result['requests_per_s']} requests/s (sequential)")
    print(f"Synthea fixtures (40 patients, whole bundles): p50 {result['fixtures_p50_ms']} ms, p95 {result['fixtures_p95_ms']} ms")
    print(f"10 active medications:                         p50 {result['ten_meds_p50_ms']} ms, p95 {result['ten_meds_p95_ms']} ms "
          "(target p95 < 100 ms)")


if __name__ == "__main__":
    main()
