"""Hostile input to the fault proxy: its API answers 400 with Toxiproxy's JSON error body
(never a 500, a hang or a traceback), and its CLI exits 64 with one located line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from assay.faults.server import ProxyServer

DEEP = 100_000
HUGE_INT = "9" * 5000


@pytest.fixture
def server(assay_proxy_server: ProxyServer) -> ProxyServer:
    return assay_proxy_server


@pytest.fixture
def api(server: ProxyServer) -> Iterator[httpx.Client]:
    """A client with one proxy, `target`, holding one toxic, `slow`; what else the test
    leaves behind is deleted."""
    client = httpx.Client(base_url=server.url, timeout=30)
    client.post("/proxies", json={"name": "target", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"})
    client.post("/proxies/target/toxics", json={"type": "latency", "name": "slow"})
    try:
        yield client
    finally:
        for name in ["target", *NAMES_CREATED]:
            client.delete(f"/proxies/{name}")
        client.close()


NAMES_CREATED = ["n", "i", "e", "d", "x", "fine", "t", "a/b"]  # names a case would create if it were accepted


# (case id, raw body, what the error must say); each is sent to every route that reads a body
BODIES: list[tuple[str, bytes, str]] = [
    ("NaN", b'{"name": "n", "upstream": "127.0.0.1:1", "toxicity": NaN, "attributes": {"latency": NaN}}', "NaN is not a number JSON allows"),
    ("Infinity", b'{"name": "i", "upstream": "127.0.0.1:1", "toxicity": -Infinity}', "-Infinity is not a number JSON allows"),
    ("1e400", b'{"name": "e", "upstream": "127.0.0.1:1", "toxicity": 1e400, "attributes": {"latency": 1e400}}', "number 1e400 is out of range"),
    ("5,000 digits", b'{"name": "d", "upstream": "127.0.0.1:1", "ttl": ' + HUGE_INT.encode() + b"}", "(5000 digits) is out of range"),
    ("100k deep", b'{"name": "x", "attributes": ' + b"[" * DEEP + b"]" * DEEP + b"}", "nested too deeply"),
    ("not UTF-8", b'{"name": "\xff"}', "bad request body"),
    ("truncated", b'{"name": "x", "upstream": ', "bad request body"),
]
ROUTES = [
    ("POST", "/proxies"),
    ("POST", "/populate"),
    ("POST", "/proxies/target"),
    ("PATCH", "/proxies/target"),
    ("POST", "/proxies/target/toxics"),
    ("POST", "/proxies/target/toxics/slow"),
    ("PATCH", "/proxies/target/toxics/slow"),
]


def _bad_request(r: httpx.Response, expected: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    error = json.loads(r.text)
    assert error["status"] == 400 and expected in error["error"], error


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in BODIES], ids=[c[0] for c in BODIES])
def test_bad_json_is_a_400(api: httpx.Client, method: str, path: str, body: bytes, expected: str) -> None:
    _bad_request(api.request(method, path, content=body), expected)
    state = api.get("/proxies").json()
    assert not set(state) & set(NAMES_CREATED)
    assert state["target"]["toxics"][0]["attributes"] == {"latency": 0, "jitter": 0}


# (case id, proxy or toxic name, what the error must say)
NAMES: list[tuple[str, str, str]] = [
    ("10 MB", "n" * 10_000_000, "is 10000000 characters long (at most 255)"),
    ("slash", "a/b", "contains '/', '?' or '#'"),
    ("query", "a?b", "contains '/', '?' or '#'"),
    ("dot dot", "..", "is a path segment of its own"),
    ("newline", "a\nb", "contains a control character"),
]


@pytest.mark.parametrize(("name", "expected"), [c[1:] for c in NAMES], ids=[c[0] for c in NAMES])
def test_names_that_cannot_be_addressed_are_a_400(api: httpx.Client, name: str, expected: str) -> None:
    _bad_request(api.post("/proxies", json={"name": name, "upstream": "127.0.0.1:1"}), f"invalid proxy name {name[:40]!r}"[:30])
    _bad_request(api.post("/proxies", json={"name": name, "upstream": "127.0.0.1:1"}), expected)
    r = api.post("/populate", json=[{"name": "fine", "upstream": "127.0.0.1:1"}, {"name": name, "upstream": "127.0.0.1:1"}])
    _bad_request(r, expected)
    assert json.loads(r.text)["error"].endswith(" at proxy 2") and json.loads(r.text)["proxies"] == []
    _bad_request(api.post("/proxies/target/toxics", json={"type": "noop", "name": name}), expected)
    state = api.get("/proxies").json()
    assert not set(state) & set(NAMES_CREATED)
    assert [t["name"] for t in state["target"]["toxics"]] == ["slow"]


@pytest.mark.parametrize(
    "attributes",
    [{"latency": 1e300}, {"latency": 2**63}, {"latency": -(2**63) - 1}, {"jitter": 1.5}, {"latency": "NaN"}],
    ids=["1e300", "2^63", "-2^63-1", "fraction", "string"],
)
def test_attribute_values_out_of_int64_are_a_400(api: httpx.Client, attributes: dict[str, object]) -> None:
    _bad_request(api.post("/proxies/target/toxics", json={"type": "latency", "name": "x", "attributes": attributes}), "of type int64")


def test_ttl_out_of_range_is_a_400(api: httpx.Client) -> None:
    _bad_request(api.post("/proxies/target/toxics", json={"type": "noop", "ttl": 1e300}), "invalid ttl")
    _bad_request(api.post("/proxies", json={"name": "t", "upstream": "127.0.0.1:1", "ttl": 2**63}), "invalid ttl")


# --- the CLI ------------------------------------------------------------------------------------------


def assay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=60)


def one_located_line(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert proc.returncode == 64, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]


# (case id, arguments after `assay proxy`, what the one line must say); none needs a server
OFFLINE: list[tuple[str, list[str], list[str]]] = [
    ("port too big", ["serve", "--port", "99999"], ["--port 99999", "0 to 65535"]),
    ("port negative", ["serve", "--port", "-1"], ["--port -1", "0 to 65535"]),
    ("attribute NaN", ["add-toxic", "p", "-t", "latency", "-a", "latency=NaN"], ["-a 'latency=NaN'", "not a finite number"]),
    ("attribute Infinity", ["add-toxic", "p", "-t", "latency", "-a", "latency=Infinity"], ["-a 'latency=Infinity'"]),
    ("attribute 1e400", ["add-toxic", "p", "-t", "latency", "-a", "latency=1e400"], ["-a 'latency=1e400'", "out of range"]),
    ("attribute 5,000 digits", ["add-toxic", "p", "-t", "latency", "-a", f"latency={HUGE_INT}"], ["-a 'latency=999"]),
    ("toxicity NaN", ["add-toxic", "p", "-t", "latency", "--toxicity", "nan"], ["--toxicity nan", "from 0 to 1"]),
    ("attribute without =", ["add-toxic", "p", "-t", "latency", "-a", "latency"], ["-a 'latency'", "expected key=value"]),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in OFFLINE], ids=[c[0] for c in OFFLINE])
def test_cli_bad_input_exits_64(args: list[str], expected: list[str]) -> None:
    # --url points nowhere: these must be refused before anything is sent
    one_located_line(assay("proxy", *args, *(["--url", "http://127.0.0.1:9"] if args[0] != "serve" else [])), *expected)


# (case id, arguments after `assay proxy`, what the one line must say); answered by a live server
ONLINE: list[tuple[str, list[str], list[str]]] = [
    ("misspelt attribute", ["add-toxic", "target", "-t", "http_error", "-s", "upstream", "-a", "stauts=500"],
     ["unknown attribute 'stauts'", "did you mean 'status'?", "valid attributes: "]),
    ("unknown type", ["add-toxic", "target", "-t", "latancy"], ["invalid toxic type 'latancy'", "known types are ", "latency"]),
    ("name with a slash", ["create", "a/b", "-u", "127.0.0.1:1"], ["invalid proxy name 'a/b'"]),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in ONLINE], ids=[c[0] for c in ONLINE])
def test_cli_input_the_server_refuses_exits_64(api: httpx.Client, server: ProxyServer, args: list[str], expected: list[str]) -> None:
    one_located_line(assay("proxy", *args, "--url", server.url), *expected)
    assert not set(api.get("/proxies").json()) & set(NAMES_CREATED)
    assert [t["name"] for t in api.get("/proxies/target/toxics").json()] == ["slow"]
