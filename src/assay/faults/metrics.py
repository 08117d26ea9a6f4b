"""/metrics in the Prometheus text format: Toxiproxy's proxy byte counters plus assay's
connection and toxic counters."""

from __future__ import annotations

from assay.faults.collection import ProxyCollection


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(collection: ProxyCollection) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")

    received: list[tuple[dict[str, str], float]] = []
    sent: list[tuple[dict[str, str], float]] = []
    total: list[tuple[dict[str, str], float]] = []
    active: list[tuple[dict[str, str], float]] = []
    activations: list[tuple[dict[str, str], float]] = []
    for proxy in collection.proxies.values():
        base = {"listener": proxy.listen, "proxy": proxy.name, "upstream": proxy.upstream}
        live = proxy.live_bytes()
        closed = proxy.stats.bytes_closed
        b = [closed[i] + live[i] for i in range(4)]
        received.append(({"direction": "upstream", **base}, b[0]))
        received.append(({"direction": "downstream", **base}, b[2]))
        sent.append(({"direction": "upstream", **base}, b[1]))
        sent.append(({"direction": "downstream", **base}, b[3]))
        total.append(({"proxy": proxy.name}, proxy.stats.connections_total))
        active.append(({"proxy": proxy.name}, proxy.stats.connections_active))
        for entry in proxy.toxic_list():
            labels = {"proxy": proxy.name, "toxic": entry.name, "type": entry.type, "stream": entry.stream}
            activations.append((labels, proxy.stats.activations.get(entry.name, 0)))
    family("toxiproxy_proxy_received_bytes_total", "counter", "The total bytes received from the source", received)
    family("toxiproxy_proxy_sent_bytes_total", "counter", "The total bytes sent to the destination", sent)
    family("assay_proxy_connections_total", "counter", "Client connections accepted", total)
    family("assay_proxy_connections_active", "gauge", "Client connections open now", active)
    family("assay_toxic_activations_total", "counter", "Links (or HTTP requests) a toxic fired on", activations)
    return "\n".join(lines) + "\n"
