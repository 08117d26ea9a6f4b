"""Broker throughput and latency through assay's workloads, against the broker's own benchmark tool.

    .venv/bin/python benchmarks/messaging/bench_brokers.py --rounds 3 --messages 20000

Redis: `redis-benchmark` (installed with redis-server) runs XADD with the same number of
parallel clients as assay has publishers (`--keys`), on a stream of its own, in the same
run, alternating with assay round by round. assay's number is the whole workload: publish
with the broker's acknowledgement, consume with a consumer group and XACK, and the ledger's
bookkeeping on both ends; redis-benchmark only sends XADD from C. So the ratio is "what a
Python load tool with a delivery ledger reaches, against the broker's ceiling for that
command on this box".

RabbitMQ (`rabbitmq-perf-test`, Java) and NATS (`nats bench`, Go) have no Debian package
and cannot be fetched here: for them assay's numbers are printed without an anchor.

Publishing is asked for far above what any of them reaches (`--rate`), so the numbers are
saturation throughput; latencies at saturation include queueing. The box is shared (2
cores, other work): the load average is printed with the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import shutil
import statistics
import subprocess
import uuid
from typing import Any

from assay.messaging.brokers import BrokerOptions, open_transport
from assay.messaging.workload import Workload, WorkloadSpec

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "mqtt": "mqtt://127.0.0.1:1883",
}


def assay_round(url: str, messages: int, keys: int, consumers: int, size: int, rate: float) -> dict[str, float]:
    name = f"assay-ledger-bench-{uuid.uuid4().hex[:8]}"

    async def main() -> Any:
        spec = WorkloadSpec(rate=rate, count=messages, consumers=consumers, keys=keys, size=size, grace=30)
        return await Workload(open_transport(url, BrokerOptions(name=name)), spec).run()

    result = asyncio.run(main())
    m = result.metrics
    lost = int(m["messages_lost"].sum)
    return {
        "publish_rate": result.extra["messaging"]["rate_achieved"] or 0.0,
        "publish_p99": m["message_publish_latency"].stat("p(99)") or 0.0,
        "e2e_p99": m["message_delivery_latency"].stat("p(99)") or 0.0,
        "delivered": m["messages_delivered"].sum,
        "lost": lost,
    }


def redis_benchmark_round(messages: int, clients: int, size: int) -> dict[str, float] | None:
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return None
    stream = f"assay-ledger-bench-rb-{uuid.uuid4().hex[:8]}"
    body = "x" * size
    out = subprocess.run(
        [tool, "-h", "127.0.0.1", "-p", "6379", "-n", str(messages), "-c", str(clients), "-P", "1", "--csv",
         "XADD", stream, "*", "ledger", "[ledger:p:k:1:1.0]", "body", body],
        capture_output=True, text=True, timeout=300, check=True,
    )
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "DEL", stream], capture_output=True, check=False)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    row = rows[-1]
    return {"publish_rate": float(row["rps"]), "publish_p99": float(row.get("p99_latency_ms") or 0.0)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--keys", type=int, default=8, help="assay publishers = redis-benchmark clients")
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rate", type=float, default=100_000.0, help="asked-for rate (far above saturation)")
    parser.add_argument("--brokers", default="redis,rabbitmq,nats,mqtt")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 shared cores; other work runs here)")
    print(f"{args.messages} messages of {args.size} B, {args.keys} publishers, {args.consumers} consumers, median of {args.rounds} rounds\n")
    header = f"{'broker':9} {'tool':22} {'publish msg/s':>14} {'publish p99 ms':>15} {'e2e p99 ms':>11} {'lost':>5}"
    print(header)
    for broker in args.brokers.split(","):
        url = BROKERS[broker]
        ours: list[dict[str, float]] = []
        anchor: list[dict[str, float]] = []
        for _ in range(args.rounds):
            if broker == "redis":
                got = redis_benchmark_round(args.messages, args.keys, args.size)
                if got is not None:
                    anchor.append(got)
            ours.append(assay_round(url, args.messages, args.keys, args.consumers, args.size, args.rate))

        def med(rows: list[dict[str, float]], key: str) -> float:
            return statistics.median(r[key] for r in rows)

        print(
            f"{broker:9} {'assay messaging':22} {med(ours, 'publish_rate'):14.0f} {med(ours, 'publish_p99'):15.2f} "
            f"{med(ours, 'e2e_p99'):11.2f} {max(r['lost'] for r in ours):5.0f}"
        )
        if anchor:
            print(f"{'':9} {'redis-benchmark XADD':22} {med(anchor, 'publish_rate'):14.0f} {med(anchor, 'publish_p99'):15.2f} {'-':>11} {'-':>5}")
            print(f"{'':9} {'ratio assay/anchor':22} {med(ours, 'publish_rate') / med(anchor, 'publish_rate'):14.2f}x")
        elif broker == "redis":
            print(f"{'':9} redis-benchmark not installed")
        else:
            print(f"{'':9} (no anchor: {'rabbitmq-perf-test' if broker == 'rabbitmq' else 'nats bench' if broker == 'nats' else 'an MQTT benchmark tool'} is not installable here)")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
