"""CDS Hooks latency benchmark: a real, authenticated server on loopback, requests built from the shared fixtures.

    python benchmarks/cds_hooks.py                  # starts `mtmrules serve --config …` on a free loopback port
    python benchmarks/cds_hooks.py --json

A throw-away issuer key and config are made in a temporary folder; every request carries a freshly
signed JWT (signed before the clock starts). Sends patient-view requests for the Synthea fixture
patients and one synthetic patient with 10 active medications, at concurrency 1, 8 and 32 (a bounded
number of requests per level), and prints p50/p95 latency and requests/s per level.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
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
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
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
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"userId": "Practitioner/1", "patientId": "bench-10"},
            "prefetch": {"patient": patient, "meds": {"resourceType": "Bundle", "type": "searchset",
                                                        "entry": [{"resource": r} for r in meds + labs]}}}


def post(url: str, data: bytes, token: str) -> float:
    req = urllib.request.Request(f"{url}/cds-services/mtmrules-patient-view", data=data,
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as response:
        response.read()
        assert response.status == 200
    return (time.perf_counter() - start) * 1000


class Issuer:
    """A throw-away CDS Client key (ES384) with its JWK Set file."""

    def __init__(self, folder: Path, audience: str) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec
        self.jwt, self.audience = jwt, audience
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        (folder / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "bench", "alg": "ES384"}]}))
        (folder / "service.yaml").write_text(
            f"audience: {audience}\ndb: {folder / 'bench.sqlite'}\nworkers: 8\n"
            f"issuers:\n  - iss: https://bench-ehr.example\n    jwks: jwks.json\n")

    def token(self) -> str:
        now = int(time.time())
        return self.jwt.encode({"iss": "https://bench-ehr.example", "sub": "bench", "aud": self.audience, "iat": now,
                                "exp": now + 240, "jti": str(uuid.uuid4())}, self.key, algorithm="ES384",
                               headers={"kid": "bench"})


def run_level(url: str, issuer: Issuer, bodies: list[bytes], concurrency: int, total: int) -> dict:
    """``total`` requests from ``concurrency`` threads; latency per request and overall requests/s."""
    tokens = [issuer.token() for _ in range(total)]
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            ms = post(url, bodies[i % len(bodies)], tokens[i])
            with lock:
                latencies.append(ms)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"concurrency": concurrency, "requests": len(latencies), "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 1), "p95_ms": round(percentile(latencies, 0.95), 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=160, help="requests per concurrency level")
    parser.add_argument("--workers", type=int, default=1, help="server processes (mtmrules serve --workers)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp())
    issuer = Issuer(folder, url)
    server = subprocess.Popen([sys.executable, "-m", "mtmrules.cli", "serve", "--config", str(folder / "service.yaml"),
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/cds-services", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        bodies = [json.dumps(fixture_request(p)).encode() for p in sorted(FIXTURES.glob("*.json"))]
        bodies += [json.dumps(ten_med_request()).encode()] * (len(bodies) // 4)
        run_level(url, issuer, bodies, 4, 40)     # warm-up
        levels = [run_level(url, issuer, bodies, n, args.requests) for n in (1, 8, 32)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.json:
        print(json.dumps(levels))
        return
    print(f"patient-view over loopback, authenticated (ES384 JWT), {args.workers} server process(es), {len(bodies)} "
          "request bodies (Synthea fixtures + a 10-medication patient)")
    print("| concurrency | requests | requests/s | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for level in levels:
        print(f"| {level['concurrency']} | {level['requests']} | {level['requests_per_s']} | {level['p50_ms']} | "
              f"{level['p95_ms']} |")


if __name__ == "__main__":
    main()
