"""Consumer-driven contracts on pact-python, plus a broker anyone can run.

- `assay.contracts.broker`: a Pact Broker compatible HAL JSON server (SQLite or
  PostgreSQL, Alembic migrations), with can-i-deploy, for-verification selectors,
  pending/WIP pacts, webhooks, tokens and an HTML page (`assay broker serve`).
- `assay.contracts.client`: a HAL client for our broker or any real Pact Broker.
- `assay.contracts.verify`: pact-python's Verifier with provider states, a RunResult
  and readable mismatch reports (`assay.contracts.mismatch`).
- `assay.contracts.coverage` and `assay.contracts.lint`: OpenAPI coverage of the
  pacts, and secret/PII checks with matcher-safe redaction.
- `assay.contracts.fixtures`: the pytest `pact` fixture.

Matching is always pact-python's (the Rust core); nothing here re-implements it.
"""
