"""Broker speed at scale: can-i-deploy and publish latency on PostgreSQL and SQLite.

Seeds 200 pacticipants, 20,000 versions and 50,000 verification results straight
into the database (bulk inserts through the broker's own tables), starts
`assay broker serve` as a separate process, and times real HTTP requests:

    .venv/bin/python benchmarks/contracts/bench_broker.py            # both stores
    .venv/bin/python benchmarks/contracts/bench_broker.py --stores sqlite --requests 200

Budgets from the issue: can-i-deploy p95 <= 50 ms, publish p95 <= 100 ms.
The anchor, the Ruby Pact Broker, cannot be installed on this machine (no
RubyGems, no Docker), so the table reports ratios to the budgets instead.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, select

from assay.contracts.broker import models as m
from assay.contracts.broker.db import make_engine, upgrade
from assay.contracts.broker.services.values import content_sha
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def pact_doc(consumer: str, provider: str, n: int) -> dict[str, object]:
    return {
        "consumer": {"name": consumer},
        "provider": {"name": provider},
        "interactions": [
            {
                "type": "Synchronous/HTTP",
                "description": f"get thing {n} {i}",
                "providerStates": [{"name": "thing exists", "params": {"id": i}}],
                "request": {"method": "GET", "path": f"/things/{i}"},
                "response": {
                    "status": 200,
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {
                        "content": {"id": i, "name": "x", "rev": n},
                        "contentType": "application/json",
                        "encoded": False,
                    },
                    "matchingRules": {
                        "body": {"$.id": {"combine": "AND", "matchers": [{"match": "integer"}]}}
                    },
                },
            }
            for i in range(3)
        ],
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


def seed(url: str, pacticipants: int, versions: int, verifications: int, seed_: int = 7) -> dict[str, object]:
    """Bulk-load a realistic broker: half consumers, half providers, 3 providers per consumer."""
    rnd = random.Random(seed_)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    n_cons = pacticipants // 2
    per = versions // pacticipants
    with engine.begin() as conn:
        conn.execute(
            insert(m.Pacticipant),
            [
                {"name": f"svc-{i:03d}", "main_branch": "main", "created_at": now, "updated_at": now}
                for i in range(pacticipants)
            ],
        )
        pids = {r.name: r.id for r in conn.execute(select(m.Pacticipant.id, m.Pacticipant.name))}
        conn.execute(
            insert(m.Version),
            [
                {"pacticipant_id": pids[f"svc-{p:03d}"], "number": f"{v}.0.0", "created_at": now}
                for p in range(pacticipants)
                for v in range(per)
            ],
        )
        vids = {
            (r.pacticipant_id, r.number): r.id
            for r in conn.execute(select(m.Version.id, m.Version.pacticipant_id, m.Version.number))
        }
        conn.execute(
            insert(m.Branch),
            [{"pacticipant_id": pid, "name": "main", "created_at": now} for pid in pids.values()],
        )
        bids = {r.pacticipant_id: r.id for r in conn.execute(select(m.Branch.id, m.Branch.pacticipant_id))}
        conn.execute(
            insert(m.BranchVersion),
            [
                {"branch_id": bids[pid], "version_id": vid, "created_at": now}
                for (pid, _n), vid in vids.items()
            ],
        )
        envs = {r.name: r.id for r in conn.execute(select(m.Environment.id, m.Environment.name))}
        consumers = [f"svc-{i:03d}" for i in range(n_cons)]
        providers = [f"svc-{i:03d}" for i in range(n_cons, pacticipants)]
        integrations = [(c, rnd.sample(providers, 3)) for c in consumers]
        contents = []
        shas: dict[tuple[str, str, int], str] = {}
        for c, provs in integrations:
            for p in provs:
                for gen in range(per // 5 + 1):  # a new pact every 5 versions; the rest reuse it (dedupe)
                    doc = pact_doc(c, p, gen)
                    shas[(c, p, gen)] = content_sha(doc)
                    contents.append(
                        {
                            "sha": shas[(c, p, gen)],
                            "consumer_id": pids[c],
                            "provider_id": pids[p],
                            "content": json.dumps(doc).encode(),
                            "created_at": now,
                        }
                    )
        conn.execute(insert(m.PactContent), contents)
        cids = {
            (r.consumer_id, r.provider_id, r.sha): r.id
            for r in conn.execute(
                select(
                    m.PactContent.id, m.PactContent.consumer_id, m.PactContent.provider_id, m.PactContent.sha
                )
            )
        }
        content_keys = {key: cids[(pids[key[0]], pids[key[1]], sha)] for key, sha in shas.items()}
        pubs = [
            {
                "consumer_id": pids[c],
                "provider_id": pids[p],
                "consumer_version_id": vids[(pids[c], f"{v}.0.0")],
                "pact_content_id": content_keys[(c, p, v // 5)],
                "created_at": now,
            }
            for c, provs in integrations
            for v in range(per)
            for p in provs
        ]
        conn.execute(insert(m.PactPublication), pubs)
        # verifications: each content verified by several provider versions, most successfully
        ver_rows = []
        keys = list(content_keys.items())
        while len(ver_rows) < verifications:
            (c, p, gen), cid = keys[len(ver_rows) % len(keys)]
            pv = min(per - 1, gen * 5 + rnd.randrange(0, 10))
            ver_rows.append(
                {
                    "pact_content_id": cid,
                    "provider_id": pids[p],
                    "consumer_id": pids[c],
                    "provider_version_id": vids[(pids[p], f"{pv}.0.0")],
                    "success": rnd.random() > 0.1,
                    "created_at": now,
                }
            )
        conn.execute(insert(m.Verification), ver_rows)
        deployed = []
        for name, pid in pids.items():
            for env, back in (("production", 3), ("test", 1)):
                deployed.append(
                    {
                        "uuid": str(uuid.uuid4()),
                        "version_id": vids[(pid, f"{per - back}.0.0")],
                        "pacticipant_id": pid,
                        "environment_id": envs[env],
                        "created_at": now,
                    }
                )
            del name
        conn.execute(insert(m.DeployedVersion), deployed)
    # a long-lived broker is vacuumed and analyzed by autovacuum; do it now rather than mid-measurement
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE")
    engine.dispose()
    return {
        "consumers": consumers,
        "integrations": dict(integrations),
        "per": per,
        "pacts": len(contents),
        "publications": len(pubs),
        "verifications": len(ver_rows),
    }


def publish_body(consumer: str, providers: list[str], i: int) -> dict[str, object]:
    return {
        "pacticipantName": consumer,
        "pacticipantVersionNumber": f"bench-{i}-{uuid.uuid4().hex[:6]}",
        "branch": "main",
        "contracts": [
            {
                "consumerName": consumer,
                "providerName": p,
                "specification": "pact",
                "contentType": "application/json",
                "content": base64.b64encode(json.dumps(pact_doc(consumer, p, 10_000 + i)).encode()).decode(),
            }
            for p in providers
        ],
    }


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "n": len(samples),
    }


def under_load(
    base: str,
    consumers: list[str],
    integrations: dict[str, list[str]],
    per: int,
    requests: int,
    clients: int,
    publishers: int,
) -> dict[str, dict[str, float]]:
    """can-i-deploy from several clients while others publish and a webhook to a dead URL is executed.

    Every publish also fires that webhook (retries with backoff in the dispatcher), and one client keeps
    calling its test execution; the heartbeat is sampled throughout.
    """
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    with httpx.Client(base_url=base, timeout=60) as http:
        hook = http.post(
            "/webhooks",
            json={"events": [{"name": "contract_published"}], "request": {"method": "POST", "url": dead}},
        ).json()
    stop = threading.Event()
    latencies: list[float] = []
    beats: list[float] = []
    counts = {"publishes": 0, "executions": 0}
    statuses: dict[int, int] = {}
    errors: list[str] = []

    def guarded(fn):  # type: ignore[no-untyped-def]
        def run(*args: object) -> None:
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - reported in the table's notes
                errors.append(f"{fn.__name__}: {exc!r}")
                stop.set()

        return run

    @guarded
    def publisher(k: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            i = k * 1_000_000
            while not stop.is_set():
                consumer = consumers[i % len(consumers)]
                r = c.post("/contracts/publish", json=publish_body(consumer, integrations[consumer], i))
                assert r.status_code == 200, r.text[:300]
                counts["publishes"] += 1
                i += 1

    @guarded
    def executor() -> None:
        with httpx.Client(timeout=60) as c:
            while not stop.is_set():
                r = c.post(hook["_links"]["pb:execute"]["href"])
                counts["executions"] += 1
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    @guarded
    def heartbeat() -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                assert c.get("/diagnostic/status/heartbeat").status_code == 200
                beats.append((time.perf_counter() - t0) * 1000)
                stop.wait(0.05)

    @guarded
    def client(k: int) -> None:
        rnd = random.Random(100 + k)
        with httpx.Client(base_url=base, timeout=60) as c:
            for _ in range(requests):
                t0 = time.perf_counter()
                r = c.get(
                    "/can-i-deploy",
                    params={
                        "pacticipant": rnd.choice(consumers),
                        "version": f"{rnd.randrange(per)}.0.0",
                        "environment": "production",
                    },
                )
                assert r.status_code == 200, r.text[:300]
                latencies.append((time.perf_counter() - t0) * 1000)
                if stop.is_set():
                    return

    background = [threading.Thread(target=publisher, args=(k,)) for k in range(publishers)]
    background += [threading.Thread(target=executor), threading.Thread(target=heartbeat)]
    for th in background:
        th.start()
    time.sleep(0.5)  # let the publishers and the webhook get going
    load_before = Path("/proc/loadavg").read_text().split()[0]
    fg = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in fg:
        th.start()
    for th in fg:
        th.join()
    stop.set()
    for th in background:
        th.join()
    load_after = Path("/proc/loadavg").read_text().split()[0]
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    name = f"can-i-deploy, {clients} clients, under load*"
    print(
        f"  * while {publishers} clients published ({counts['publishes']} versions) and a webhook to a dead URL "
        f"fired on each publish and was test-executed {counts['executions']} times (HTTP {statuses}); load average "
        f"{load_before} -> {load_after}",
        flush=True,
    )
    return {name: summarize(latencies), "heartbeat, same time*": summarize(beats)}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1)))))
    return ordered[k]


def measure(
    url: str, info: dict[str, object], requests: int, clients: int = 4, publishers: int = 2
) -> dict[str, dict[str, float]]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="assay-bench-broker-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "assay", "broker", "serve", "--port", str(port), "--db", url]
    results: dict[str, dict[str, float]] = {}
    rnd = random.Random(11)
    consumers: list[str] = info["consumers"]  # type: ignore[assignment]
    integrations: dict[str, list[str]] = info["integrations"]  # type: ignore[assignment]
    per: int = info["per"]  # type: ignore[assignment]
    with ServiceProcess(
        cmd,
        cwd=ROOT,
        health_url=f"http://127.0.0.1:{port}/diagnostic/status/heartbeat",
        start_timeout=60,
        log_path=log,
    ):
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"Accept": "application/hal+json"}
        ) as http:
            for _ in range(50):  # warm up connections, caches and the query planner
                http.get(
                    "/can-i-deploy",
                    params={
                        "pacticipant": consumers[0],
                        "version": f"{per - 1}.0.0",
                        "environment": "production",
                    },
                )

            def timed(fn) -> list[float]:  # type: ignore[no-untyped-def]
                out = []
                for i in range(requests):
                    t0 = time.perf_counter()
                    fn(i)
                    out.append((time.perf_counter() - t0) * 1000)
                return out

            def cid_consumer(i: int) -> None:
                c = rnd.choice(consumers)
                r = http.get(
                    "/can-i-deploy",
                    params={
                        "pacticipant": c,
                        "version": f"{rnd.randrange(per)}.0.0",
                        "environment": "production",
                    },
                )
                assert r.status_code == 200, r.text

            providers = sorted({p for ps in integrations.values() for p in ps})

            def cid_provider(i: int) -> None:
                p = rnd.choice(providers)
                r = http.get(
                    "/matrix",
                    params=[
                        ("q[][pacticipant]", p),
                        ("q[][version]", f"{rnd.randrange(per)}.0.0"),
                        ("latestby", "cvp"),
                        ("environment", "production"),
                    ],
                )
                assert r.status_code == 200, r.text

            def publish(i: int) -> None:
                c = consumers[i % len(consumers)]
                r = http.post("/contracts/publish", json=publish_body(c, integrations[c], i))
                assert r.status_code == 200, r.text

            def for_verification(i: int) -> None:
                p = rnd.choice(providers)
                r = http.post(
                    f"/pacts/provider/{p}/for-verification",
                    json={
                        "consumerVersionSelectors": [{"mainBranch": True}, {"deployedOrReleased": True}],
                        "providerVersionBranch": "main",
                        "includePendingStatus": True,
                    },
                )
                assert r.status_code == 200, r.text

            for name, fn in (
                ("can-i-deploy (consumer -> production)", cid_consumer),
                ("can-i-deploy (provider -> production, /matrix)", cid_provider),
                ("publish (3 pacts per version)", publish),
                ("for-verification (2 selectors, pending)", for_verification),
            ):
                results[name] = summarize(timed(fn))
        if clients:
            results.update(
                under_load(
                    f"http://127.0.0.1:{port}", consumers, integrations, per, requests, clients, publishers
                )
            )
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stores", default="postgresql,sqlite")
    ap.add_argument("--pacticipants", type=int, default=200)
    ap.add_argument("--versions", type=int, default=20_000)
    ap.add_argument("--verifications", type=int, default=50_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--clients", type=int, default=4, help="concurrent can-i-deploy clients (0: skip)")
    ap.add_argument("--publishers", type=int, default=2, help="clients publishing meanwhile")
    args = ap.parse_args()
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    budgets = {"can-i-deploy": 50.0, "publish": 100.0}
    table = []
    for store in args.stores.split(","):
        tmp = tempfile.TemporaryDirectory(prefix="assay-bench-")
        dbname = None
        if store == "postgresql":
            dbname = f"assay_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            url = f"postgresql://postgres@127.0.0.1:5432/{dbname}"
        else:
            url = f"sqlite:///{tmp.name}/broker.db"
        try:
            t0 = time.perf_counter()
            info = seed(url, args.pacticipants, args.versions, args.verifications)
            seeded = time.perf_counter() - t0
            print(
                f"[{store}] seeded {args.pacticipants} pacticipants, {args.versions} versions, "
                f"{info['publications']} pact publications ({info['pacts']} distinct pacts), "
                f"{info['verifications']} verification results in {seeded:.1f}s",
                flush=True,
            )
            for name, r in measure(url, info, args.requests, args.clients, args.publishers).items():
                budget = next((b for k, b in budgets.items() if name.startswith(k)), None)
                table.append((store, name, r, budget))
        finally:
            if dbname:
                with psycopg.connect(ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            tmp.cleanup()
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    print()
    print(
        f"{'store':<11} {'operation':<48} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'budget':>8} "
        f"{'p95/budget':>10}"
    )
    for store, name, r, budget in table:
        ratio = f"{r['p95'] / budget:.2f}" if budget else "-"
        print(
            f"{store:<11} {name:<48} {int(r['n']):>5} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} "
            f"{(f'{budget:.0f}' if budget else '-'):>8} {ratio:>10}"
        )


if __name__ == "__main__":
    main()
