"""Messaging: the delivery ledger (lost, duplicated, out of order, misdelivered) and broker workloads.

- `Ledger` (ledger.py): marks messages, records arrivals, judges delivery; `Verdict` (verdict.py)
  turns the judgement into RunResult metrics (`messages_lost`, `message_delivery_latency`, ...).
- `Envelope` (envelope.py): the token a message carries (`[ledger:producer:key:seq:ts]`).
- In load scenarios: `vu.ledger` is the run's ledger (the glue is in assay.load.ledgered and
  assay.load.yaml.ledger_steps); YAML steps `ledger:` / `subscribe:`.
- `brokers/`: publish/consume workloads on Redis Streams, RabbitMQ, NATS JetStream, MQTT, WebSocket
  (`assay messaging run`).
"""

from assay.messaging.envelope import Envelope
from assay.messaging.ledger import ALL_KEYS, Ledger, Receipt
from assay.messaging.verdict import LEDGER_METRICS, KeyVerdict, Verdict

__all__ = ["Ledger", "Envelope", "Receipt", "Verdict", "KeyVerdict", "ALL_KEYS", "LEDGER_METRICS"]
