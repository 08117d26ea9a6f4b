"""`assay proxy ...` end to end: serve with a config file, then drive it with the client
subcommands; bad input exits 64 with one clear line."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faults_helpers import connect, recv_exactly

from assay.cli.app import main
from assay.faults.server import subprocess_server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, echo_server: str) -> Iterator[Any]:
    config = tmp_path_factory.mktemp("cfg") / "proxies.json"
    config.write_text(json.dumps([
        {"name": "echo", "listen": "127.0.0.1:0", "upstream": echo_server,
         "toxics": [{"type": "latency", "attributes": {"latency": 50}}]},
        {"name": "spare", "listen": "127.0.0.1:0", "upstream": echo_server, "enabled": False},
    ]))
    with subprocess_server(config=config) as service:
        yield service


def test_serve_with_config_and_client_subcommands(served: Any, capsys: pytest.CaptureFixture[str], echo_server: str) -> None:
    url = served.url
    code, out, _ = run(capsys, "proxy", "list", "--url", url)
    assert code == 0
    assert "echo\t127.0.0.1:" in out and "disabled" in out and "latency_downstream\tlatency" in out
    code, out, _ = run(capsys, "proxy", "create", "cli", "--upstream", echo_server, "--url", url)
    assert code == 0 and out.startswith("cli\t127.0.0.1:")
    listen = out.split("\t")[1].split(" ")[0]
    code, out, _ = run(capsys, "proxy", "add-toxic", "cli", "-t", "limit_data", "-a", "bytes=3", "--stream", "downstream", "--url", url)
    assert code == 0 and json.loads(out)["attributes"] == {"bytes": 3}
    with connect(listen) as s:
        s.sendall(b"abcdef")
        assert recv_exactly(s, 6) == b"abc"
    code, out, _ = run(capsys, "proxy", "toxics", "cli", "--url", url)
    assert [t["name"] for t in json.loads(out)] == ["limit_data_downstream"]
    code, out, _ = run(capsys, "proxy", "remove-toxic", "cli", "limit_data_downstream", "--url", url)
    assert code == 0
    code, out, _ = run(capsys, "proxy", "toggle", "cli", "--disable", "--url", url)
    assert code == 0 and "disabled" in out
    code, out, _ = run(capsys, "proxy", "reset", "--url", url)
    assert code == 0
    assert httpx.get(f"{url}/proxies/cli").json()["enabled"] is True
    assert httpx.get(f"{url}/proxies/echo").json()["toxics"] == []
    code, out, _ = run(capsys, "proxy", "list", "--json", "--url", url)
    assert set(json.loads(out)) == {"echo", "spare", "cli"}
    code, out, _ = run(capsys, "proxy", "delete", "cli", "--url", url)
    assert code == 0 and "cli" not in httpx.get(f"{url}/proxies").json()


def test_client_subcommand_errors_exit_64(served: Any, capsys: pytest.CaptureFixture[str], echo_server: str) -> None:
    code, _, err = run(capsys, "proxy", "create", "echo", "--upstream", echo_server, "--url", served.url)
    assert code == 64 and "409: proxy already exists" in err
    code, _, err = run(capsys, "proxy", "delete", "nope", "--url", served.url)
    assert code == 64 and "404: proxy not found" in err
    code, _, err = run(capsys, "proxy", "add-toxic", "echo", "-t", "latency", "-a", "latency", "--url", served.url)
    assert code == 64 and "expected key=value" in err
    code, _, err = run(capsys, "proxy", "add-toxic", "echo", "-t", "slicer", "-a", "average_size=0", "--url", served.url)
    assert code == 64 and "average_size" in err
    code, _, err = run(capsys, "proxy", "list", "--url", "http://127.0.0.1:9")
    assert code == 64 and "cannot reach the proxy API" in err


def test_bad_config_file_is_a_located_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[\n  {"name": "x", "upstrem": "127.0.0.1:1"}\n]\n')
    result = subprocess.run([sys.executable, "-m", "assay", "proxy", "serve", "--port", "0", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 64
    assert "proxies.json" in result.stderr and "upstrem" in result.stderr and "Traceback" not in result.stderr


def test_api_port_in_use_is_a_usage_error(served: Any) -> None:
    port = served.url.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "assay", "proxy", "serve", "--port", port],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 64 and "cannot listen" in result.stderr


def test_schema_kind_proxies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", "proxies")
    schema = json.loads(out)
    assert code == 0 and schema["type"] == "array"


def test_tls_passes_through_with_sni_untouched(served: Any, tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=db.internal.test", "-addext", "subjectAltName=DNS:db.internal.test"],
                   check=True, capture_output=True, timeout=30)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    seen: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: seen.append(name)  # type: ignore[assignment,misc,return-value]
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(tls.recv(100).upper())

    t = threading.Thread(target=serve_one, daemon=True)
    t.start()
    api = httpx.Client(base_url=served.url)
    listen = api.post("/proxies", json={"name": "tls", "listen": "127.0.0.1:0",
                                        "upstream": f"127.0.0.1:{listener.getsockname()[1]}"}).json()["listen"]
    client_ctx = ssl.create_default_context(cafile=str(cert))
    try:
        with connect(listen) as raw, client_ctx.wrap_socket(raw, server_hostname="db.internal.test") as tls:
            tls.sendall(b"secret")
            assert tls.recv(100) == b"SECRET"
            assert tls.getpeercert()["subject"][0][0][1] == "db.internal.test"  # type: ignore[index]
    finally:
        api.delete("/proxies/tls")
        listener.close()
    assert seen == ["db.internal.test"]
