"""Load an SLO file: assay's own YAML/JSON/TOML shape, or OpenSLO v1 documents (detected by apiVersion)."""

from __future__ import annotations

from pathlib import Path

from assay.config import (
    ConfigError,
    ConfigIssue,
    detect_format,
    key_positions,
    parse_data,
    read_text,
    validate_data,
)
from assay.slo.openslo import from_documents, is_openslo, load_documents
from assay.slo.spec import EXAMPLE_OBJECTIVE, SloFile


def load_slo(path: str | Path) -> SloFile:
    """Read and validate an SLO file; every mistake is a located ConfigError (exit 64).

    A file without a `name` is named after the file (`checkout-slo.yaml` -> `checkout-slo`), so
    reports and metrics say which SLO they judged.
    """
    p = Path(path)
    text = read_text(p)
    fmt = detect_format(p)
    if fmt == "yaml" and "openslo/" in text:
        documents = load_documents(text, str(p))  # strict: a duplicate key or syntax error is located here
        if is_openslo(documents):
            return _named(from_documents(documents, str(p)), p)
    data = parse_data(text, source=str(p), fmt=fmt)
    if data is None:
        why = f"the file is empty; an SLO needs at least one objective, e.g. {EXAMPLE_OBJECTIVE}"
        raise ConfigError([ConfigIssue(str(p), None, None, (), why)])
    return _named(validate_data(data, SloFile, source=str(p), positions=key_positions(text, fmt)), p)


def _named(spec: SloFile, path: Path) -> SloFile:
    if not spec.name:
        spec.name = path.stem
    return spec
