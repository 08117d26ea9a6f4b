"""Load an SLO file: assay's own YAML/JSON/TOML shape, or OpenSLO v1 documents (detected by apiVersion)."""

from __future__ import annotations

from pathlib import Path

import yaml

from assay.config import detect_format, parse_config, read_text
from assay.slo.openslo import from_documents, is_openslo
from assay.slo.spec import SloFile


def load_slo(path: str | Path) -> SloFile:
    """Read and validate an SLO file; every mistake is a located ConfigError (exit 64)."""
    p = Path(path)
    text = read_text(p)
    fmt = detect_format(p)
    if fmt == "yaml" and "openslo/" in text:
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            documents = []  # parse_config below reports the syntax error with its position
        if is_openslo(documents):
            return from_documents(documents, str(p))
    return parse_config(text, SloFile, source=str(p), fmt=fmt)
