"""`assay proxy`: serve the Toxiproxy-compatible fault proxy, and drive any such server."""

from __future__ import annotations

import json
import math
from typing import Any

import typer

from assay.errors import UsageError

app = typer.Typer(name="proxy", help="Fault proxy with the Toxiproxy API (and HTTP-level faults).", no_args_is_help=True)

URL = typer.Option("http://127.0.0.1:8474", "--url", envvar="TOXIPROXY_URL", help="The Toxiproxy-compatible API.")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address of the API."),
    port: int = typer.Option(8474, "--port", help="Port of the API."),
    config: str | None = typer.Option(None, "--config", help="Proxies to create at start (Toxiproxy's JSON array)."),
) -> None:
    """Serve the Toxiproxy HTTP API and its proxies until Ctrl-C."""
    from assay.faults.server import ProxyServer

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: a port is a number from 0 to 65535")

    server = ProxyServer(host=host, port=port, config=config)
    typer.echo(f"assay proxy: API on {server.url}", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


def _client(url: str) -> Any:
    from assay.faults.client import Toxiproxy

    return Toxiproxy(url)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    import httpx

    from assay.faults.client import ToxiproxyError

    try:
        return fn(*args, **kwargs)
    except ToxiproxyError as exc:
        raise UsageError(f"the server answered {exc.status}: {exc.message}") from None
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot reach the proxy API: {exc}") from None


def _not_finite(name: str) -> Any:
    raise ValueError(name)


def _attributes(pairs: list[str]) -> dict[str, Any]:
    """`-a key=value` pairs; a value is JSON if it parses as JSON (a number, true, an object), else a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-a {pair!r}: expected key=value, e.g. latency=100")
        try:
            parsed = json.loads(value, parse_constant=_not_finite)
        except json.JSONDecodeError:
            parsed = value
        except (ValueError, RecursionError):  # NaN or Infinity, a 5,000-digit number, nesting past the stack
            raise UsageError(f"-a {pair[:60]!r}: {value[:20]!r} is not a finite number or a JSON value") from None
        if isinstance(parsed, float) and not math.isfinite(parsed):  # 1e400
            raise UsageError(f"-a {pair[:60]!r}: {value[:20]!r} is out of range") from None
        out[key] = parsed
    return out


@app.command("list")
def list_proxies(url: str = URL, as_json: bool = typer.Option(False, "--json", help="Print the raw JSON.")) -> None:
    """List proxies and their toxics."""
    proxies = _call(_client(url).proxies)
    if as_json:
        typer.echo(json.dumps({n: p.body for n, p in proxies.items()}, indent=2))
        return
    if not proxies:
        typer.echo("no proxies")
    for name, proxy in sorted(proxies.items()):
        state = "enabled" if proxy.enabled else "disabled"
        typer.echo(f"{name}\t{proxy.listen} -> {proxy.upstream}\t{state}")
        for toxic in proxy.body.get("toxics", []):
            typer.echo(
                f"  {toxic['name']}\t{toxic['type']}\t{toxic['stream']}\ttoxicity={toxic['toxicity']}\t"
                f"{json.dumps(toxic['attributes'])}"
            )


@app.command("create")
def create(
    name: str = typer.Argument(...),
    upstream: str = typer.Option(..., "--upstream", "-u", help="host:port to forward to."),
    listen: str = typer.Option("127.0.0.1:0", "--listen", "-l", help="host:port to listen on (0 = any free port)."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it without listening."),
    ttl: int | None = typer.Option(None, "--ttl", help="Delete the proxy after this many ms (assay servers only)."),
    url: str = URL,
) -> None:
    """Create a proxy; prints its listen address."""
    proxy = _call(_client(url).create, name, upstream, listen, enabled=not disabled, ttl=ttl)
    typer.echo(f"{proxy.name}\t{proxy.listen} -> {proxy.upstream}")


@app.command("delete")
def delete(name: str = typer.Argument(...), url: str = URL) -> None:
    """Delete a proxy (its connections are closed)."""
    _call(_delete, url, name)
    typer.echo(f"deleted {name}")


def _delete(url: str, name: str) -> None:
    from assay.faults.client import Proxy

    Proxy(_client(url), {"name": name}).delete()


@app.command("toggle")
def toggle(name: str = typer.Argument(...), enable: bool = typer.Option(..., "--enable/--disable"), url: str = URL) -> None:
    """Enable or disable (down) a proxy."""
    from assay.faults.client import Proxy

    proxy = _call(Proxy(_client(url), {"name": name}).update, enabled=enable)
    typer.echo(f"{name}\t{'enabled' if proxy.enabled else 'disabled'}")


@app.command("toxics")
def toxics(name: str = typer.Argument(..., help="The proxy."), url: str = URL) -> None:
    """List the toxics of a proxy as JSON."""
    from assay.faults.client import Proxy

    typer.echo(json.dumps(_call(Proxy(_client(url), {"name": name}).toxics), indent=2))


@app.command("add-toxic")
def add_toxic(
    proxy: str = typer.Argument(..., help="The proxy."),
    type_: str = typer.Option(..., "--type", "-t", help="latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, http_error, ..."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="key=value (value parsed as JSON), repeatable."),
    name: str | None = typer.Option(None, "--name", "-n"),
    stream: str = typer.Option("downstream", "--stream", "-s", help="upstream or downstream."),
    toxicity: float = typer.Option(1.0, "--toxicity"),
    ttl: int | None = typer.Option(None, "--ttl", help="Remove the toxic after this many ms (assay servers only)."),
    url: str = URL,
) -> None:
    """Add a toxic to a proxy."""
    from assay.faults.client import Proxy

    if not 0.0 <= toxicity <= 1.0:  # also NaN
        raise UsageError(f"--toxicity {toxicity}: expected a number from 0 to 1")
    body = _call(
        Proxy(_client(url), {"name": proxy}).add_toxic,
        type_, _attributes(attribute), name=name or f"{type_}_{stream}", stream=stream, toxicity=toxicity, ttl=ttl,
    )
    typer.echo(json.dumps(body))


@app.command("remove-toxic")
def remove_toxic(proxy: str = typer.Argument(...), toxic: str = typer.Argument(...), url: str = URL) -> None:
    """Remove a toxic from a proxy."""
    from assay.faults.client import Proxy

    _call(Proxy(_client(url), {"name": proxy}).remove_toxic, toxic)
    typer.echo(f"removed {toxic} from {proxy}")


@app.command("reset")
def reset(url: str = URL) -> None:
    """Enable every proxy and remove every toxic."""
    _call(_client(url).reset)
    typer.echo("reset")
