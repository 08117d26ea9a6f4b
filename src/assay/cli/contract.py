"""`assay contract`: verify providers against pacts, lint pacts, measure contract coverage."""

from __future__ import annotations

from pathlib import Path

import typer

from assay.cli.observing import ObservedRun, metrics_port_option, otel_option, pushgateway_option
from assay.cli.recording import open_for_record, record_option, record_result, store_option

app = typer.Typer(
    name="contract",
    help="Verify, lint and measure coverage of Pact contracts.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _selectors(raw: list[str], shortcuts: dict[str, bool]) -> list[dict[str, object]]:
    import json

    from assay.errors import UsageError

    out: list[dict[str, object]] = []
    for i, text in enumerate(raw, 1):
        try:
            sel = json.loads(text)
        except ValueError as exc:
            raise UsageError(
                f"--selector #{i}: not JSON ({exc}); e.g. --selector '{{\"mainBranch\": true}}'"
            ) from exc
        if not isinstance(sel, dict):
            raise UsageError(f"--selector #{i}: expected a JSON object, got {text!r}")
        out.append(sel)
    for key, on in shortcuts.items():
        if on:
            out.append({key: True})
    return out


@app.command("verify")
def verify(
    ctx: typer.Context,
    provider: str = typer.Option(..., "--provider", help="The provider's name in the pacts."),
    provider_base_url: str | None = typer.Option(
        None, "--provider-base-url", help="Where the running provider listens (HTTP interactions)."
    ),
    message_provider: str | None = typer.Option(
        None,
        "--message-provider",
        help="Produces the messages of message pacts: module:obj, file.py:obj, or an HTTP message endpoint URL.",
    ),
    pact: list[Path] = typer.Option([], "--pact", help="A pact file (repeatable)."),
    broker: str | None = typer.Option(
        None, "--broker", envvar="PACT_BROKER_BASE_URL", help="Fetch pacts from a broker."
    ),
    broker_token: str | None = typer.Option(None, "--broker-token", envvar="PACT_BROKER_TOKEN"),
    selector: list[str] = typer.Option(
        [], "--selector", help='Consumer version selector as JSON, e.g. \'{"branch":"main"}\'.'
    ),
    main_branch: bool = typer.Option(
        False, "--main-branch", help="Shortcut for the selector {mainBranch: true}."
    ),
    deployed_or_released: bool = typer.Option(False, "--deployed-or-released", help="Shortcut selector."),
    all_deployed: bool = typer.Option(
        False,
        "--all-deployed",
        help="Nightly check: every deployed/released consumer version (all environments) plus main, "
        "each verified on its own so the report names the consumer version that broke.",
    ),
    include_pending: bool = typer.Option(
        False, "--include-pending", help="Pending pacts do not fail the build."
    ),
    include_wip_since: str | None = typer.Option(
        None, "--include-wip-since", help="Include WIP pacts since DATE."
    ),
    state_handlers: str | None = typer.Option(
        None, "--state-handlers", help="module:obj, file.py:obj, or a URL."
    ),
    publish: bool = typer.Option(False, "--publish", help="Publish the results to the broker."),
    provider_version: str | None = typer.Option(None, "--provider-version"),
    branch: str | None = typer.Option(None, "--branch", help="The provider's branch."),
    tag: list[str] = typer.Option([], "--tag", help="Provider version tag (repeatable)."),
    build_url: str | None = typer.Option(None, "--build-url"),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown report here."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML here."),
    out: Path | None = typer.Option(None, "--out", help="Write the RunResult JSON here."),
    replay: bool = typer.Option(
        True,
        "--replay/--no-replay",
        help="Re-send failing requests to show the actual response (off for unsafe APIs).",
    ),
    show_extra: bool = typer.Option(
        False, "--show-extra", help="Also list response fields the pact does not mention (Pact allows them)."
    ),
    record: bool = record_option(),
    store: str | None = store_option(),
    metrics_port: int | None = metrics_port_option(),
    pushgateway: str | None = pushgateway_option(),
    otel_endpoint: str | None = otel_option(),
) -> None:
    """Verify a running provider against its pacts (pact-python's Verifier); exit 2 on a mismatch."""
    from assay.atomic import write_text_atomic
    from assay.contracts import mismatch
    from assay.contracts.verify import VerifyOptions
    from assay.contracts.verify import verify as run_verify
    from assay.errors import AssayError, ExitCode

    source = ctx.get_parameter_source("broker")
    if pact and broker and source is not None and source.name == "ENVIRONMENT":
        # An explicit --pact means those files; a broker only from the environment is not also used.
        typer.echo(
            "note: verifying only the --pact files; PACT_BROKER_BASE_URL is not used (add --broker to use both)",
            err=True,
        )
        broker = None
    opts = VerifyOptions(
        provider=provider,
        provider_base_url=provider_base_url,
        message_provider=message_provider,
        pact_files=list(pact),
        broker_url=broker,
        broker_token=broker_token,
        selectors=_selectors(
            selector, {"mainBranch": main_branch, "deployedOrReleased": deployed_or_released}
        ),
        include_pending=include_pending,
        include_wip_since=include_wip_since,
        state_handlers=state_handlers,
        publish=publish,
        provider_version=provider_version,
        provider_branch=branch,
        provider_tags=list(tag),
        build_url=build_url,
        replay_failures=replay,
        all_deployed=all_deployed,
    )
    trend_store = open_for_record(record, store)  # before verifying: a wrong URL is exit 64, not a lost run
    with ObservedRun(provider, "contract", metrics_port=metrics_port, pushgateway=pushgateway, otel_endpoint=otel_endpoint) as observed:
        result = run_verify(opts)
        observed.finish(result.run)
    typer.echo(mismatch.to_console(result.outcomes, show_extra=show_extra))
    if markdown:
        write_text_atomic(
            markdown,
            mismatch.to_markdown(
                result.outcomes, f"Contract verification: {provider}", show_extra=show_extra
            ),
        )
    if junit:
        write_text_atomic(junit, mismatch.to_junit(result.outcomes, f"contracts {provider}"))
    if out:
        result.run.save(out)
    record_result(trend_store, result.run)
    extra = result.run.extra["contracts"]
    for label in extra.get("broken", []) if all_deployed else []:
        typer.echo(f"BROKEN: {label}")
    if result.failed:
        raise AssayError(
            f"contract verification failed: {extra['failed']} of {extra['interactions']} interactions did not match",
            exit_code=ExitCode.GATE_FAILED,
        )
    if result.run.status == "warning":
        raise AssayError(
            f"contract verification passed with warnings ({extra['pending_failed']} pending failures)",
            exit_code=ExitCode.WARNING,
        )


@app.command("lint")
def lint(
    paths: list[Path] = typer.Argument(..., help="Pact files or folders."),
    fix: bool = typer.Option(False, "--fix", help="Redact findings in place with matcher-safe placeholders."),
) -> None:
    """Find secrets and PII in pact files (run before publishing). Exit 2 when any remain."""
    from assay.contracts.lint import lint as run_lint
    from assay.errors import AssayError, ExitCode

    result = run_lint(list(paths), fix=fix)
    for f in result.findings:
        mark = "fixed" if f.fixed else "error"
        typer.echo(f"{mark}: {f}")
    remaining = result.remaining
    fixed = len(result.findings) - len(remaining)
    typer.echo(
        f"{result.files} file(s), {len(result.findings)} finding(s)" + (f", {fixed} redacted" if fix else "")
    )
    if remaining:
        hint = "" if fix else " (run with --fix to redact them)"
        raise AssayError(
            f"{len(remaining)} secret/PII finding(s) in pact files{hint}", exit_code=ExitCode.GATE_FAILED
        )


@app.command("coverage")
def coverage(
    openapi: Path = typer.Option(..., "--openapi", help="The provider's OpenAPI document (YAML or JSON)."),
    pacts: list[Path] = typer.Option([], "--pacts", help="Pact files or folders (repeatable)."),
    broker: str | None = typer.Option(
        None, "--broker", envvar="PACT_BROKER_BASE_URL", help="Take pacts from a broker."
    ),
    broker_token: str | None = typer.Option(None, "--broker-token", envvar="PACT_BROKER_TOKEN"),
    provider: str | None = typer.Option(None, "--provider", help="With --broker: the provider's name."),
    min_coverage: float | None = typer.Option(
        None, "--min-coverage", help="Gate: minimum % of response codes covered."
    ),
    minimum: list[str] = typer.Option(
        [],
        "--min",
        help="Gate, repeatable: P0=100 (operations of a priority), all=80, errors=100 (4xx/5xx of covered operations).",
    ),
    schema: list[str] = typer.Option(
        [], "--schema", help="Gate on the fields of a named schema any pact exercises, e.g. Dashboard=100."
    ),
    priorities: Path | None = typer.Option(
        None,
        "--priorities",
        help='YAML mapping "METHOD /path" or operationId -> priority (beside x-priority/tags).',
    ),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown report here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON here."),
    junit: Path | None = typer.Option(None, "--junit", help="Write the gates as JUnit XML here."),
) -> None:
    """Which operations and response codes of the OpenAPI document the consumers' pacts cover."""
    import json

    from assay.atomic import write_text_atomic
    from assay.contracts import coverage as cov
    from assay.contracts import pactfile
    from assay.errors import AssayError, ExitCode, UsageError

    if min_coverage is not None and not 0 <= min_coverage <= 100:
        raise UsageError(f"--min-coverage: expected a percentage 0..100, got {min_coverage}")
    spec = cov.load_openapi(openapi)
    docs = []
    if pacts:
        from assay.contracts.client import collect_pact_files

        docs += [pactfile.load(f) for f in collect_pact_files(pacts)]
    if broker:
        from assay.contracts.client import BrokerClient

        if not provider:
            raise UsageError("--broker needs --provider")
        with BrokerClient(broker, token=broker_token) as client:
            listed = client.request("GET", client.link("pb:latest-provider-pacts", provider=provider))
            docs += [client.request("GET", p["href"]) for p in listed["_links"].get("pb:pacts", [])]
    if not docs:
        raise UsageError("give --pacts DIR or --broker URL --provider NAME")
    from assay.contracts import coverage_gates as cg

    mins = cg.parse_minimums(minimum)
    schema_mins = cg.parse_minimums(schema, "--schema")
    mapping = cg.load_priority_map(priorities)
    report = cov.measure(spec, docs)
    gates = cg.priority_gates(spec, report, mapping, mins)
    gates.append(cg.error_code_gate(report, mins.get("errors")))
    schema_gates, tables = cg.schema_gates(spec, docs, schema_mins)
    gates += schema_gates
    typer.echo(cov.to_text(report))
    typer.echo("")
    typer.echo(cg.to_text(gates, tables))
    if markdown:
        write_text_atomic(markdown, cov.to_markdown(report) + "\n" + cg.to_markdown(gates, tables))
    if json_out:
        body = {"schemaVersion": 1, **report.to_dict(), "gates": [g.to_dict() for g in gates]}
        body["schemaFields"] = [t.to_dict() for t in tables]
        write_text_atomic(json_out, json.dumps(body, indent=2) + "\n")
    if junit:
        write_text_atomic(junit, cg.to_junit(gates))
    failed = [g for g in gates if not g.passed]
    if failed:
        raise AssayError(
            "coverage gate(s) failed: "
            + ", ".join(f"{g.name} {g.percent:.1f}% < {g.minimum:g}%" for g in failed),
            exit_code=ExitCode.GATE_FAILED,
        )
    if min_coverage is not None and report.response_pct < min_coverage:
        raise AssayError(
            f"contract coverage {report.response_pct:.1f}% of response codes is below --min-coverage {min_coverage:g}%",
            exit_code=ExitCode.GATE_FAILED,
        )


@app.command("cross-check")
def cross_check(
    openapi: Path = typer.Option(
        ..., "--openapi", help="The provider's OpenAPI 3.0/3.1 document (YAML or JSON)."
    ),
    pact: list[Path] = typer.Option(..., "--pact", help="Pact files or folders (repeatable)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the results as JSON here."),
) -> None:
    """Bi-directional check: each pact interaction against the OpenAPI document, without running the provider."""
    import json

    from assay.atomic import write_text_atomic
    from assay.contracts import bidirectional, pactfile
    from assay.contracts.client import collect_pact_files
    from assay.contracts.coverage import load_openapi
    from assay.errors import AssayError, ExitCode

    spec = load_openapi(openapi)
    results = [bidirectional.cross_check(spec, pactfile.load(f)) for f in collect_pact_files(pact)]
    for r in results:
        typer.echo(bidirectional.to_text(r))
    if json_out:
        body = {"schemaVersion": 1, "openapi": str(openapi), "results": [r.to_dict() for r in results]}
        write_text_atomic(json_out, json.dumps(body, indent=2) + "\n")
    failed = [c for r in results for c in r.checks if not c.ok]
    if failed:
        raise AssayError(
            f"{len(failed)} interaction(s) do not match the OpenAPI document", exit_code=ExitCode.GATE_FAILED
        )
