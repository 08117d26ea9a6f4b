"""`assay broker`: run a Pact broker, and talk to ours or any real Pact Broker."""

from __future__ import annotations

from pathlib import Path

import typer

from assay.errors import UsageError

app = typer.Typer(
    name="broker",
    help="Pact broker server and client, can-i-deploy.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

BROKER_URL = typer.Option(
    "http://127.0.0.1:9292",
    "--broker-base-url",
    "-b",
    envvar="PACT_BROKER_BASE_URL",
    help="The broker's base URL.",
)
BROKER_TOKEN = typer.Option(None, "--broker-token", "-k", envvar="PACT_BROKER_TOKEN", help="Bearer token.")


def _client(url: str, token: str | None):  # type: ignore[no-untyped-def]
    from assay.contracts.client import BrokerClient

    return BrokerClient(url, token=token)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(9292, "--port", help="Port to bind."),
    db: str = typer.Option(
        "sqlite:///assay-broker.db",
        "--db",
        envvar=["ASSAY_BROKER_DB", "ASSAY_DB_URL"],
        help="sqlite:///file.db or postgresql://... (default $ASSAY_BROKER_DB, else $ASSAY_DB_URL, the URL every assay store reads).",
    ),
    read_token: list[str] = typer.Option([], "--read-token", help="A read-only bearer token (repeatable)."),
    write_token: list[str] = typer.Option(
        [], "--write-token", help="A read-write bearer token (repeatable)."
    ),
    webhook_retries: int = typer.Option(5, "--webhook-retries", help="Retries after a failed webhook call."),
    webhook_backoff: float = typer.Option(
        1.0, "--webhook-backoff", help="First retry delay in seconds; doubles each retry."
    ),
) -> None:
    """Run the broker (HAL JSON API compatible with Pact Broker clients, plus an HTML page at /ui)."""
    from assay.contracts.broker.server import ServerConfig
    from assay.contracts.broker.server import serve as run

    cfg = ServerConfig.from_env(
        db=db,
        host=host,
        port=port,
        read_tokens=set(read_token),
        write_tokens=set(write_token),
        webhook_retries=webhook_retries,
        webhook_backoff=webhook_backoff,
    )
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: expected 0-65535")
    if webhook_retries < 0:
        raise UsageError(f"--webhook-retries {webhook_retries}: expected 0 or more")
    if not 0 <= webhook_backoff < float("inf"):
        raise UsageError(f"--webhook-backoff {webhook_backoff}: expected a number of seconds, 0 or more")
    for flag, tokens in (("--read-token", read_token), ("--write-token", write_token)):
        if any(not t.strip() for t in tokens):
            raise UsageError(f"{flag}: a token cannot be empty (it would let anyone in)")
    run(cfg, announce=lambda: typer.echo(f"assay broker on http://{host}:{port} (db {cfg.db.split('@')[-1]})", err=True))


def _print_notices(notices: list[dict[str, str]]) -> None:
    for n in notices:
        mark = {"success": "✔", "error": "✘", "danger": "✘", "warning": "!"}.get(n.get("type", ""), "·")
        typer.echo(f"{mark} {n.get('text', '')}")


@app.command("publish")
def publish(
    paths: list[Path] = typer.Argument(..., help="Pact files, or folders of them."),
    version: str = typer.Option(..., "--version", "--consumer-app-version", "-a", help="Consumer version."),
    branch: str | None = typer.Option(None, "--branch", help="Consumer branch."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag (repeatable)."),
    build_url: str | None = typer.Option(None, "--build-url", help="CI build URL."),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Publish pacts (uses POST /contracts/publish, or the old PUT on brokers without it)."""
    with _client(broker, token) as client:
        result = client.publish(paths, version=version, branch=branch, tags=tag, build_url=build_url)
    _print_notices(result["notices"])


@app.command("publish-provider-contract")
def publish_provider_contract(
    contract: Path = typer.Argument(..., help="The provider's OpenAPI 3.0/3.1 document (JSON or YAML)."),
    provider: str = typer.Option(..., "--provider", help="The provider's name."),
    version: str = typer.Option(..., "--version", "--provider-app-version", "-a", help="Provider version."),
    branch: str | None = typer.Option(None, "--branch", help="Provider branch."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag (repeatable)."),
    build_url: str | None = typer.Option(None, "--build-url", help="CI build URL."),
    verification_success: bool | None = typer.Option(
        None,
        "--verification-success/--no-verification-success",
        help="Did the provider's own test of this document (e.g. schemathesis) pass?",
    ),
    verification_results: Path | None = typer.Option(
        None, "--verification-results", help="The self-verification report to attach."
    ),
    verifier: str | None = typer.Option(
        None, "--verifier", help="The tool that self-verified, e.g. schemathesis."
    ),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Publish an OpenAPI provider contract; the broker cross-checks every consumer pact against it."""
    import base64

    from assay.errors import UsageError

    selfv: dict[str, object] | None = None
    if verification_success is not None or verification_results or verifier:
        if verification_success is None:
            raise UsageError(
                "--verification-results/--verifier need --verification-success or --no-verification-success"
            )
        selfv = {"success": verification_success}
        if verification_results:
            try:
                selfv["content"] = base64.b64encode(verification_results.read_bytes()).decode()
            except OSError as exc:
                raise UsageError(f"{verification_results}: cannot read ({exc.strerror})") from exc
            selfv["contentType"] = (
                "application/json" if verification_results.suffix == ".json" else "text/plain"
            )
        if verifier:
            selfv["verifier"] = verifier
    with _client(broker, token) as client:
        result = client.publish_provider_contract(
            contract,
            provider=provider,
            version=version,
            branch=branch,
            tags=tag,
            build_url=build_url,
            self_verification=selfv,
        )
    _print_notices(result.get("notices", []))
    for check in result.get("crossChecks", []):
        mark = "✔" if check["success"] else "✘"
        typer.echo(f"{mark} {check['consumer']}")
        for t in check.get("testResults", []):
            for m in t.get("mismatches", []):
                typer.echo(f"    {t['interactionDescription']}: {m['description']}")


@app.command("webhook-from-template")
def webhook_from_template(
    template: str = typer.Option(
        ..., "--template", help="slack (Slack-compatible message) or json (generic post)."
    ),
    event: str = typer.Option(
        ...,
        "--event",
        help="contract_content_changed, provider_verification_published or provider_verification_failed.",
    ),
    url: str = typer.Option(..., "--url", help="Where the hook posts (e.g. a Slack incoming-webhook URL)."),
    consumer: str | None = typer.Option(None, "--consumer", help="Only for this consumer."),
    provider: str | None = typer.Option(None, "--provider", help="Only for this provider."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the webhook definition instead of creating it."
    ),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Create a notification webhook from a ready-made template (no hand-written body)."""
    import json

    from assay.contracts.webhook_templates import webhook

    body = webhook(template, event, url, consumer=consumer, provider=provider)
    if dry_run:
        typer.echo(json.dumps(body, indent=2))
        return
    with _client(broker, token) as client:
        created = client.request("POST", f"{client.base_url}/webhooks", json_body=body)
    typer.echo(f"created webhook {created.get('uuid', '')}: {body['description']}")


@app.command("can-i-deploy")
def can_i_deploy(
    pacticipant: str = typer.Option(..., "--pacticipant", "-a", help="The application to deploy."),
    version: str | None = typer.Option(None, "--version", "-e", help="Its version (default: latest)."),
    to_environment: str | None = typer.Option(None, "--to-environment", help="Target environment."),
    to: str | None = typer.Option(None, "--to", help="Target tag (legacy)."),
    branch: str | None = typer.Option(None, "--branch", help="Use the latest version from this branch."),
    ignore: list[str] = typer.Option([], "--ignore", help="Pacticipant to ignore (repeatable)."),
    retry_while_unknown: int = typer.Option(
        0, "--retry-while-unknown", help="Retries while the answer is unknown."
    ),
    retry_interval: float = typer.Option(10.0, "--retry-interval", help="Seconds between retries."),
    output: str = typer.Option("table", "--output", "-o", help="table or json."),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Ask the broker whether a version is safe to deploy. Exit 0 yes, 2 no or unknown."""
    import json

    from assay.errors import AssayError, ExitCode, UsageError

    if output not in ("table", "json"):
        raise UsageError(f"--output: expected table or json, got {output!r}")
    with _client(broker, token) as client:
        answer = client.can_i_deploy(
            pacticipant,
            version=version,
            to_environment=to_environment,
            to_tag=to,
            branch=branch,
            ignore=ignore,
            retry_while_unknown=retry_while_unknown,
            retry_interval=retry_interval,
        )
    if output == "json":
        typer.echo(json.dumps(answer.body, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("Consumer", "C.version", "Provider", "P.version", "Success?", "Kind")
        for row in answer.body.get("matrix", []):
            pv = (row.get("provider") or {}).get("version") or {}
            vr = row.get("verificationResult")
            ok = "unknown" if vr is None else ("true" if vr.get("success") else "false")
            table.add_row(
                row["consumer"]["name"],
                row["consumer"]["version"]["number"],
                row["provider"]["name"],
                pv.get("number", "unknown"),
                ok + (" (ignored)" if row.get("ignored") else ""),
                "-" if vr is None else str(vr.get("verificationKind", "pact")),
            )
        console = Console()
        if answer.body.get("matrix"):
            console.print(table)
        console.print(answer.reason, highlight=False)
        verdict = {
            True: "Computer says yes \\o/",
            False: "Computer says no",
            None: "Computer says no (unknown)",
        }
        console.print(verdict[answer.deployable], highlight=False)
    if answer.deployable is not True:
        verdict_text = "no" if answer.deployable is False else "unknown"
        raise AssayError(
            f"can-i-deploy: {pacticipant} {version or ''} -> {verdict_text}", exit_code=ExitCode.GATE_FAILED
        )


@app.command("record-deployment")
def record_deployment(
    pacticipant: str = typer.Option(..., "--pacticipant", "-a"),
    version: str = typer.Option(..., "--version", "-e"),
    environment: str = typer.Option(..., "--environment"),
    application_instance: str | None = typer.Option(None, "--application-instance"),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Record that a version is now deployed to an environment."""
    with _client(broker, token) as client:
        client.record_deployment(pacticipant, version, environment, application_instance)
    typer.echo(f"Recorded deployment of {pacticipant} version {version} to {environment}")


@app.command("record-undeployment")
def record_undeployment(
    pacticipant: str = typer.Option(..., "--pacticipant", "-a"),
    environment: str = typer.Option(..., "--environment"),
    application_instance: str | None = typer.Option(None, "--application-instance"),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Record that a pacticipant is no longer deployed to an environment."""
    with _client(broker, token) as client:
        client.record_undeployment(pacticipant, environment, application_instance)
    typer.echo(f"Recorded undeployment of {pacticipant} from {environment}")


@app.command("record-release")
def record_release(
    pacticipant: str = typer.Option(..., "--pacticipant", "-a"),
    version: str = typer.Option(..., "--version", "-e"),
    environment: str = typer.Option(..., "--environment"),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Record that a version is released (and supported) in an environment."""
    with _client(broker, token) as client:
        client.record_release(pacticipant, version, environment)
    typer.echo(f"Recorded release of {pacticipant} version {version} to {environment}")


@app.command("create-environment")
def create_environment(
    name: str = typer.Option(..., "--name"),
    display_name: str | None = typer.Option(None, "--display-name"),
    production: bool = typer.Option(False, "--production/--no-production"),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Create an environment."""
    with _client(broker, token) as client:
        env = client.create_environment(name, display_name=display_name, production=production)
    typer.echo(f"Created {env['name']} environment with UUID {env['uuid']}")


@app.command("describe-version")
def describe_version(
    pacticipant: str = typer.Option(..., "--pacticipant", "-a"),
    version: str | None = typer.Option(None, "--version", "-e", help="Default: the latest version."),
    output: str = typer.Option("table", "--output", "-o", help="table or json."),
    broker: str = BROKER_URL,
    token: str | None = BROKER_TOKEN,
) -> None:
    """Show a version: branches, tags and the environments it is in."""
    import json

    with _client(broker, token) as client:
        v = client.version(pacticipant, version)
    if output == "json":
        typer.echo(json.dumps(v, indent=2))
        return
    typer.echo(f"{pacticipant} {v['number']}")
    typer.echo(f"  branches:     {', '.join(b['name'] for b in v.get('branchVersions', [])) or '-'}")
    typer.echo(f"  tags:         {', '.join(t['name'] for t in v.get('tags', [])) or '-'}")
    typer.echo(f"  environments: {', '.join(e['name'] for e in v.get('environments', [])) or '-'}")
    typer.echo(f"  created:      {v.get('createdAt')}")
