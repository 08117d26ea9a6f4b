"""k6's `insecureSkipTLSVerify` from a script's options, against a self-signed HTTPS server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_load_client import tls_server  # noqa: F401 - the fixture (a self-signed server on 127.0.0.1)

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load

SCRIPT = Path(__file__).resolve().parent / "k6_scripts" / "tls_skip_verify.js"


@pytest.mark.parametrize(("skip", "answered"), [("1", 2), ("0", 0)])
def test_insecure_skip_tls_verify_accepts_a_self_signed_certificate(tls_server: str, skip: str, answered: int) -> None:  # noqa: F811
    env = {"TLS": tls_server, "SKIP_VERIFY": skip}
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(SCRIPT), env=env), env=full_env)
    result = run_load(loaded, plan, workers=1, env=full_env)
    checks = {c.name: (c.passes, c.fails) for c in result.checks}
    assert checks["answered over TLS"] == (answered, 2 - answered)
    assert checks["refused: unknown authority"] == (2 - answered, answered)
    assert result.metrics["http_reqs"].count == 2
