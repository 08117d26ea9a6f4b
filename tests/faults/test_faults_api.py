"""The Toxiproxy HTTP API, checked detail by detail against faults.md §1."""

from __future__ import annotations

import json
import socket

import httpx

from assay.faults.api import VERSION


def _create(api: httpx.Client, name: str, upstream: str = "127.0.0.1:1", listen: str = "127.0.0.1:0", **extra: object) -> httpx.Response:
    return api.post("/proxies", json={"name": name, "upstream": upstream, "listen": listen, **extra})


def _error(r: httpx.Response) -> dict[str, object]:
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text.endswith("\n")
    return dict(json.loads(r.text))


def test_empty_collections_and_version(api: httpx.Client) -> None:
    r = api.get("/proxies")
    assert r.status_code == 200 and r.json() == {}
    r = api.get("/version")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json;charset=utf-8"
    assert r.text == json.dumps({"version": VERSION}, separators=(",", ":")) + "\n"


def test_create_rewrites_listen_and_keeps_key_order(api: httpx.Client) -> None:
    r = _create(api, "a")
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["name", "listen", "upstream", "enabled", "toxics"]
    host, port = body["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert body["enabled"] is True and body["toxics"] == []
    # the rewritten port really listens
    socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
    # all interfaces, as Toxiproxy: "" becomes [::]:port
    r = _create(api, "b", listen="")
    assert r.json()["listen"].startswith("[::]:")
    # disabled: the literal string is kept and nothing listens
    r = _create(api, "c", listen="127.0.0.1:0", enabled=False)
    assert r.json()["listen"] == "127.0.0.1:0" and r.json()["enabled"] is False
    assert set(api.get("/proxies").json()) == {"a", "b", "c"}


def test_create_errors_in_toxiproxy_order(api: httpx.Client) -> None:
    r = api.post("/proxies", content=b"{not json")
    assert r.status_code == 400 and str(_error(r)["error"]).startswith("bad request body: ")
    assert _error(r)["status"] == 400
    r = api.post("/proxies", json={"upstream": "x:1"})
    assert r.status_code == 400 and _error(r) == {"error": "missing required field: name", "status": 400}
    r = api.post("/proxies", json={"name": "x"})
    assert _error(r) == {"error": "missing required field: upstream", "status": 400}
    r = api.post("/proxies", json={"name": 5, "upstream": "x:1"})
    assert r.status_code == 400 and "bad request body" in str(_error(r)["error"])
    assert _create(api, "dup").status_code == 201
    r = _create(api, "dup")
    assert r.status_code == 409 and _error(r) == {"error": "proxy already exists", "status": 409}


def test_port_in_use_gives_500_and_server_keeps_running(api: httpx.Client) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        r = _create(api, "busy", listen=f"127.0.0.1:{port}")
        assert r.status_code == 500
        assert _error(r)["error"] == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
        assert "busy" not in api.get("/proxies").json()
        assert _create(api, "busy").status_code == 201
    finally:
        blocker.close()


def test_get_update_post_and_patch_partial(api: httpx.Client) -> None:
    listen = _create(api, "p", upstream="127.0.0.1:1").json()["listen"]
    assert api.get("/proxies/p").json()["listen"] == listen
    # POST with a partial body: only enabled changes
    r = api.post("/proxies/p", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["listen"] == listen
    r = api.patch("/proxies/p", json={"enabled": True})
    assert r.json()["enabled"] is True and r.json()["listen"] == listen
    # same resolved address: no move; re-sending :0 moves the port (Toxiproxy semantics)
    r = api.patch("/proxies/p", json={"listen": listen, "upstream": "127.0.0.1:2", "toxics": []})
    assert r.json()["upstream"] == "127.0.0.1:2" and r.json()["listen"] == listen
    r = api.patch("/proxies/p", json={"listen": "127.0.0.1:0"})
    assert r.json()["listen"] != listen
    assert api.patch("/proxies/nope", json={}).status_code == 404
    assert _error(api.post("/proxies/nope", json={}))["error"] == "proxy not found"
    r = api.patch("/proxies/p", json={"enabled": "yes"})
    assert r.status_code == 400


def test_delete_and_404s(api: httpx.Client) -> None:
    _create(api, "d")
    r = api.delete("/proxies/d")
    assert r.status_code == 204 and r.content == b""
    r = api.delete("/proxies/d")
    assert r.status_code == 404 and _error(r) == {"error": "proxy not found", "status": 404}
    assert api.get("/proxies/d/toxics").status_code == 404
    r = api.get("/nothing/here")
    assert r.status_code == 404 and r.text == "404 page not found\n"
    assert api.put("/proxies").status_code == 405
    assert api.delete("/version").status_code == 405


def test_browsers_are_refused(api: httpx.Client) -> None:
    r = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert r.status_code == 403 and r.text == "User agent not allowed\n"


def test_toxic_create_defaults_shapes_and_errors(api: httpx.Client) -> None:
    _create(api, "t")
    r = api.post("/proxies/t/toxics", json={"type": "latency", "attributes": {"latency": 10}})
    assert r.status_code == 200  # not 201
    body = r.json()
    assert list(body) == ["attributes", "name", "type", "stream", "toxicity"]
    assert body == {
        "attributes": {"latency": 10, "jitter": 0}, "name": "latency_downstream",
        "type": "latency", "stream": "downstream", "toxicity": 1,
    }
    # attributes: null is accepted (zero values); the stream is case-insensitive but kept as sent
    r = api.post("/proxies/t/toxics", json={"type": "timeout", "stream": "UpStream", "attributes": None})
    assert r.json()["name"] == "timeout_UpStream" and r.json()["stream"] == "UpStream"
    assert r.json()["attributes"] == {"timeout": 0}
    every = {
        "bandwidth": {"rate": 0}, "slow_close": {"delay": 0}, "reset_peer": {"timeout": 0},
        "slicer": {"average_size": 1, "size_variation": 0, "delay": 0}, "limit_data": {"bytes": 0}, "noop": {},
    }
    for kind, attrs in every.items():
        sent = {"average_size": 1} if kind == "slicer" else {}
        r = api.post("/proxies/t/toxics", json={"type": kind, "stream": "upstream", "attributes": sent})
        assert r.status_code == 200 and r.json()["attributes"] == attrs
    # list: upstream chain first, then downstream, each in insertion order
    names = [t["name"] for t in api.get("/proxies/t/toxics").json()]
    assert names == [
        "timeout_UpStream", "bandwidth_upstream", "slow_close_upstream", "reset_peer_upstream",
        "slicer_upstream", "limit_data_upstream", "noop_upstream", "latency_downstream",
    ]
    assert [t["name"] for t in api.get("/proxies/t").json()["toxics"]] == names
    r = api.post("/proxies/t/toxics", json={"type": "latency", "stream": "sideways"})
    assert _error(r) == {"error": "stream was invalid, can be either upstream or downstream", "status": 400}
    r = api.post("/proxies/t/toxics", json={"type": "teleport"})
    known = "bandwidth, http_abort, http_corrupt, http_delay, http_error, http_headers, http_truncate, latency"
    assert _error(r)["status"] == 400
    assert str(_error(r)["error"]).startswith(f"invalid toxic type 'teleport': known types are {known}, ")
    # a duplicate name is refused across both streams
    r = api.post("/proxies/t/toxics", json={"type": "latency", "stream": "upstream", "name": "latency_downstream"})
    assert r.status_code == 409 and _error(r) == {"error": "toxic already exists", "status": 409}
    r = api.post("/proxies/t/toxics", json={"type": "latency", "name": "bad", "attributes": {"latency": "slow"}})
    assert r.status_code == 400 and str(_error(r)["error"]).startswith("bad request body: ")
    assert api.post("/proxies/t/toxics", content=b"[").status_code == 400
    assert api.post("/proxies/nope/toxics", json={"type": "latency"}).status_code == 404


def test_invalid_attribute_values_are_400_not_a_hang(api: httpx.Client) -> None:
    _create(api, "v")
    r = api.post("/proxies/v/toxics", json={"type": "latency", "attributes": {"latency": -5}})
    assert r.status_code == 400 and "latency" in str(_error(r)["error"])
    r = api.post("/proxies/v/toxics", json={"type": "slicer", "attributes": {"average_size": 0}})
    assert r.status_code == 400 and "average_size" in str(_error(r)["error"])
    r = api.post("/proxies/v/toxics", json={"type": "latency", "toxicity": 3})
    assert r.status_code == 400
    assert api.get("/proxies/v/toxics").json() == []


def test_toxic_get_update_delete(api: httpx.Client) -> None:
    _create(api, "u")
    api.post("/proxies/u/toxics", json={"type": "latency", "name": "l", "toxicity": 0.5, "attributes": {"latency": 10, "jitter": 3}})
    assert api.get("/proxies/u/toxics/l").json()["toxicity"] == 0.5
    # POST keeps what is left out
    r = api.post("/proxies/u/toxics/l", json={"attributes": {"latency": 75}})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"latency": 75, "jitter": 3} and r.json()["toxicity"] == 0.5
    # PATCH, as the Go client sends it; name/type/stream are fixed
    r = api.patch("/proxies/u/toxics/l", json={"toxicity": 1, "type": "timeout", "stream": "upstream"})
    assert r.json()["toxicity"] == 1 and r.json()["type"] == "latency" and r.json()["stream"] == "downstream"
    r = api.patch("/proxies/u/toxics/l", json={"attributes": {"latency": -1}})
    assert r.status_code == 400
    r = api.patch("/proxies/u/toxics/zz", json={})
    assert r.status_code == 404 and _error(r) == {"error": "toxic not found", "status": 404}
    assert api.get("/proxies/u/toxics/zz").status_code == 404
    assert api.delete("/proxies/u/toxics/l").status_code == 204
    assert api.delete("/proxies/u/toxics/l").status_code == 404
    assert api.get("/proxies/u/toxics").json() == []


def test_populate_and_reset(api: httpx.Client) -> None:
    r = api.post("/populate", json=[{"name": "one", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"},
                                    {"name": "two", "upstream": "127.0.0.1:2", "listen": "127.0.0.1:0", "enabled": False}])
    assert r.status_code == 201
    proxies = r.json()["proxies"]
    assert [p["name"] for p in proxies] == ["one", "two"]
    assert proxies[0]["enabled"] is True and proxies[1]["enabled"] is False
    fixed = proxies[0]["listen"]
    # same name + same listen + upstream: left untouched; proxies not listed are not deleted
    r = api.post("/populate", json=[{"name": "one", "upstream": "127.0.0.1:1", "listen": fixed}])
    assert r.json()["proxies"][0]["listen"] == fixed
    assert set(api.get("/proxies").json()) == {"one", "two"}
    # validation happens before anything is created
    r = api.post("/populate", json=[{"name": "three", "upstream": "x:1"}, {"upstream": "x:2"}])
    assert r.status_code == 400
    assert r.json() == {"error": "missing required field: name at proxy 2", "status": 400, "proxies": []}
    assert "three" not in api.get("/proxies").json()
    r = api.post("/populate", json={"name": "x"})
    assert r.status_code == 400 and r.json()["proxies"] == []
    # reset: every toxic deleted, every proxy enabled again
    api.post("/proxies/one/toxics", json={"type": "latency"})
    r = api.post("/reset")
    assert r.status_code == 204 and r.content == b""
    state = api.get("/proxies").json()
    assert state["two"]["enabled"] is True and state["one"]["toxics"] == []


def test_counters_in_metrics_and_proxy(api: httpx.Client, echo_server: str) -> None:
    listen = _create(api, "m", upstream=echo_server).json()["listen"]
    api.post("/proxies/m/toxics", json={"type": "noop", "name": "n"})
    with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), timeout=5) as s:
        s.sendall(b"hello")
        assert s.recv(5) == b"hello"
    stats = api.get("/proxies/m").json()["stats"]
    assert stats["connections_total"] == 1
    assert stats["bytes_upstream_received"] == 5 and stats["bytes_downstream_sent"] == 5
    assert stats["toxics"] == {"n": {"activations": 1}}
    text = api.get("/metrics").text
    assert 'toxiproxy_proxy_received_bytes_total{direction="upstream"' in text
    assert 'assay_proxy_connections_total{proxy="m"} 1.0' in text
    assert 'assay_toxic_activations_total{proxy="m",stream="downstream",toxic="n",type="noop"} 1.0' in text


def test_metrics_values_are_exact(api: httpx.Client, echo_server: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    listen = _create(api, "big", upstream=echo_server).json()["listen"]
    payload = (bytes(range(256)) * 4823)[:1_234_567]
    with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert got == payload
    r = api.get("/metrics")
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "1.23457e+06" not in r.text and "1.234567e+06" in r.text  # every digit, as Toxiproxy's Go client writes it
    samples = {
        (s.name, s.labels.get("direction")): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.labels.get("proxy") == "big"
    }
    for direction in ("upstream", "downstream"):
        assert samples["toxiproxy_proxy_received_bytes_total", direction] == 1_234_567
        assert samples["toxiproxy_proxy_sent_bytes_total", direction] == 1_234_567
    assert samples["assay_proxy_connections_total", None] == 1


def test_unknown_attributes_are_refused_with_the_valid_names(api: httpx.Client) -> None:
    _create(api, "attrs")
    r = api.post("/proxies/attrs/toxics", json={"type": "http_error", "stream": "upstream", "attributes": {"stauts": 500}})
    error = _error(r)
    assert r.status_code == 400 and error["status"] == 400
    assert str(error["error"]).startswith("unknown attribute 'stauts' for toxic type http_error (did you mean 'status'?); valid attributes: ")
    assert "status, body, content_type, headers" in str(error["error"]) and "path_regex" in str(error["error"])
    assert api.get("/proxies/attrs/toxics").json() == []  # nothing was added
    r = api.post("/proxies/attrs/toxics", json={"type": "latency", "attributes": {"latency": 10, "jiter": 5}})
    assert _error(r)["error"] == "unknown attribute 'jiter' for toxic type latency (did you mean 'jitter'?); valid attributes: latency, jitter"
    r = api.post("/proxies/attrs/toxics", json={"type": "noop", "attributes": {"x": 1}})
    assert _error(r)["error"] == "unknown attribute 'x' for toxic type noop; valid attributes: none"
    # the same on update, which keeps the toxic as it was
    assert api.post("/proxies/attrs/toxics", json={"type": "latency", "attributes": {"latency": 10}}).status_code == 200
    r = api.patch("/proxies/attrs/toxics/latency_downstream", json={"attributes": {"latncy": 20}})
    assert r.status_code == 400 and "did you mean 'latency'?" in str(_error(r)["error"])
    assert api.get("/proxies/attrs/toxics/latency_downstream").json()["attributes"] == {"latency": 10, "jitter": 0}
    # null attributes and null values stay accepted (chaostoolkit-toxiproxy sends them)
    assert api.post("/proxies/attrs/toxics", json={"type": "slicer", "attributes": None}).status_code == 400  # average_size 0
    assert api.post("/proxies/attrs/toxics", json={"type": "noop", "attributes": None}).status_code == 200
