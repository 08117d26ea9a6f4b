"""`assay contract`: verify providers against pacts, lint pacts, measure contract coverage."""

from __future__ import annotations

from pathlib import Path

import typer

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
    provider_base_url: str = typer.Option(
        ..., "--provider-base-url", help="Where the running provider listens."
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
    )
    result = run_verify(opts)
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
    extra = result.run.extra["contracts"]
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
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown report here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON here."),
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
    report = cov.measure(spec, docs)
    typer.echo(cov.to_text(report))
    if markdown:
        write_text_atomic(markdown, cov.to_markdown(report))
    if json_out:
        write_text_atomic(json_out, json.dumps(report.to_dict(), indent=2) + "\n")
    if min_coverage is not None and report.response_pct < min_coverage:
        raise AssayError(
            f"contract coverage {report.response_pct:.1f}% of response codes is below --min-coverage {min_coverage:g}%",
            exit_code=ExitCode.GATE_FAILED,
        )
