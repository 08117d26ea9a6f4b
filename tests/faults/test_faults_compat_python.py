"""The real Python clients against `assay proxy serve`: toxiproxy-python (every call) and
chaostoolkit-toxiproxy (every action and probe, plus a real `chaos run`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toxiproxy
from chaostoxi.proxy import actions as proxy_actions
from chaostoxi.proxy import probes as proxy_probes
from chaostoxi.toxic import actions as toxic_actions
from faults_helpers import recv_exactly
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from assay.faults.server import subprocess_server


@pytest.fixture(scope="module")
def served() -> Iterator[Any]:
    """`assay proxy serve` as a real subprocess, as users run it."""
    with subprocess_server() as service:
        yield service


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _rtt(port: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        start = time.monotonic()
        s.sendall(b"ping")
        assert recv_exactly(s, 4) == b"ping"
        return time.monotonic() - start


def test_toxiproxy_python_every_call(served: Any, echo_server: str) -> None:
    saved = (APIConsumer.host, APIConsumer.port)
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer("127.0.0.1", _port(served.url))
    try:
        assert server.running() is True
        assert json.loads(server.version()) == {"version": "2.12.0"}
        assert server.proxies() == {}
        proxy = server.create(upstream=echo_server, name="py_echo")
        assert proxy.name == "py_echo" and proxy.enabled is True
        port = int(proxy.listen.rsplit(":", 1)[1])
        assert port > 0
        with pytest.raises(ProxyExists):
            server.create(upstream=echo_server, name="py_echo")
        assert server.get_proxy("py_echo").upstream == echo_server
        assert server.get_proxy("nope") is None

        proxy.add_toxic(type="latency", attributes={"latency": 250, "jitter": 0})
        assert _rtt(port) >= 0.25
        toxics = proxy.toxics()
        assert list(toxics) == ["latency_downstream"]
        assert proxy.get_toxic("latency_downstream").attributes == {"latency": 250, "jitter": 0}
        proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", toxicity=0.5, attributes={"rate": 1000})
        assert set(proxy.toxics()) == {"latency_downstream", "bw"}
        assert proxy.destroy_toxic("latency_downstream") is True
        with pytest.raises(NotFound, match="toxic not found"):
            proxy.destroy_toxic("latency_downstream")
        with pytest.raises(InvalidToxic):
            proxy.add_toxic(type="teleport")
        assert min(_rtt(port) for _ in range(3)) < 0.25

        proxy.disable()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        proxy.enable()
        with proxy.down():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2)
        assert _rtt(port) < 1

        made = server.populate([
            {"name": "py_pop", "upstream": echo_server, "listen": "127.0.0.1:0"},
            {"name": "py_echo", "upstream": echo_server, "listen": proxy.listen},
        ])
        assert [p.name for p in made] == ["py_pop"]  # py_echo matched and was left alone
        assert server.reset() is True
        assert server.get_proxy("py_echo").toxics() == {}
        assert server.destroy(server.get_proxy("py_pop")) is True
        server.destroy_all()
        assert server.proxies() == {}
    finally:
        APIConsumer.host, APIConsumer.port = saved


def test_chaostoolkit_toxiproxy_actions_and_probes(served: Any, echo_server: str) -> None:
    cfg: dict[str, Any] = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": _port(served.url)}
    host, port = echo_server.split(":")
    assert proxy_actions.create_proxy("ctk", host, int(port), listen_host="127.0.0.1", configuration=cfg) is True
    listen_port = int(cfg["ctk_PORT"])
    assert proxy_probes.proxy_exist("ctk", configuration=cfg) is True
    assert proxy_probes.proxy_exist("nope", configuration=cfg) is False
    assert proxy_probes.get_proxy_attribute("ctk", "upstream", configuration=cfg) == echo_server

    assert toxic_actions.create_latency_toxic("ctk", "lat", latency=250, jitter=0, configuration=cfg)
    assert _rtt(listen_port) >= 0.25
    assert toxic_actions.delete_toxic("ctk", "lat", configuration=cfg)
    shortcuts = [
        (toxic_actions.create_bandwith_degradation_toxic, {"rate": 1000}),
        (toxic_actions.create_slow_connection_close_toxic, {"delay": 10}),
        (toxic_actions.create_timeout_toxic, {"timeout": 1000}),
        (toxic_actions.create_slicer_toxic, {"average_size": 10, "size_variation": 2, "delay": 5}),
        (toxic_actions.create_limiter_toxic, {"bytes_limit": 1000}),
    ]
    for i, (fn, kwargs) in enumerate(shortcuts):
        assert fn("ctk", f"t{i}", configuration=cfg, **kwargs), fn.__name__
    assert toxic_actions.create_toxic("ctk", "nullattrs", "noop", configuration=cfg)  # attributes: null
    assert toxic_actions.create_toxic("ctk", "rst", "reset_peer", stream="upstream", attributes={"timeout": 0}, configuration=cfg)
    names = [t["name"] for t in proxy_probes.get_proxy_attribute("ctk", "toxics", configuration=cfg)]
    assert names == ["rst", "t0", "t1", "t2", "t3", "t4", "nullattrs"]  # upstream chain first
    assert proxy_actions.reset(configuration=cfg)
    assert proxy_probes.get_proxy_attribute("ctk", "toxics", configuration=cfg) == []

    assert proxy_actions.disable_proxy("ctk", configuration=cfg)
    assert proxy_probes.get_proxy_attribute("ctk", "enabled", configuration=cfg) is False
    assert proxy_actions.enable_proxy("ctk", configuration=cfg)
    assert proxy_actions.modify_proxy("ctk", upstream_address=echo_server, configuration=cfg)
    assert _rtt(int(cfg["ctk_PORT"])) < 1
    proxy_actions.delete_proxy("ctk", configuration=cfg)
    assert proxy_probes.proxy_exist("ctk", configuration=cfg) is False


PROBE = """
import os, socket, time
port = int(os.environ["ctk_run_PORT"])
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    start = time.monotonic(); s.sendall(b"ping"); got = b""
    while len(got) < 4:
        got += s.recv(4)
print(int((time.monotonic() - start) * 1000))
"""


def test_chaos_run_experiment_against_our_server(served: Any, echo_server: str, tmp_path: Path, chaostoolkit: Path) -> None:
    chaos = str(chaostoolkit)  # the real chaostoolkit, in its own venv with chaostoolkit-toxiproxy
    host, port = echo_server.split(":")
    cfg = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": _port(served.url)}
    proxy_exists = {
        "type": "probe", "name": "proxy-exists", "tolerance": True,
        "provider": {"type": "python", "module": "chaostoxi.proxy.probes", "func": "proxy_exist",
                     "arguments": {"proxy_name": "ctk_run"}},
    }
    experiment = {
        "title": "latency on the echo dependency is visible to clients",
        "description": "assay proxy serve driven by chaostoolkit-toxiproxy",
        "configuration": cfg,
        "method": [
            {"type": "action", "name": "create-proxy", "provider": {
                "type": "python", "module": "chaostoxi.proxy.actions", "func": "create_proxy",
                "arguments": {"proxy_name": "ctk_run", "upstream_host": host, "upstream_port": int(port),
                              "listen_host": "127.0.0.1"}}},
            {"type": "action", "name": "add-latency", "provider": {
                "type": "python", "module": "chaostoxi.toxic.actions", "func": "create_latency_toxic",
                "arguments": {"for_proxy": "ctk_run", "toxic_name": "slow", "latency": 300}}},
            {"type": "probe", "name": "measure-round-trip", "provider": {
                "type": "process", "path": sys.executable, "arguments": ["-c", PROBE]}},
        ],
        "steady-state-hypothesis": {"title": "the proxy is there", "probes": [proxy_exists]},
        "rollbacks": [
            {"type": "action", "name": "remove-latency", "provider": {
                "type": "python", "module": "chaostoxi.toxic.actions", "func": "delete_toxic",
                "arguments": {"for_proxy": "ctk_run", "toxic_name": "slow"}}},
            {"type": "action", "name": "remove-proxy", "provider": {
                "type": "python", "module": "chaostoxi.proxy.actions", "func": "delete_proxy",
                "arguments": {"proxy_name": "ctk_run"}}},
        ],
    }
    # the proxy is created by the method, so the hypothesis is checked after it only
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    journal = tmp_path / "journal.json"
    result = subprocess.run(
        [chaos, "--no-log-file", "run", "--journal-path", str(journal), "--hypothesis-strategy", "after-method-only",
         "--rollback-strategy", "always", str(path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(journal.read_text())
    assert data["status"] == "completed" and data["deviated"] is False
    runs = {r["activity"]["name"]: r for r in data["run"]}
    assert all(r["status"] == "succeeded" for r in runs.values()), runs
    assert int(runs["measure-round-trip"]["output"]["stdout"].strip()) >= 300
    assert data["steady_states"]["after"]["steady_state_met"] is True
    assert [r["status"] for r in data["rollbacks"]] == ["succeeded", "succeeded"]
    # the rollbacks left nothing behind
    import httpx

    assert httpx.get(f"{served.url}/proxies").json() == {}
