"""Read OpenSLO v1 documents (SLO, SLI, DataSource) into an SLO file.

A run is short, so an OpenSLO objective is judged over the run window rather than its
time window: a threshold metric with a target means "target of events beat the value",
which for a latency trend is exactly a percentile (`target: 0.95, op: lte, value: 350`
is `p(95) <= 350`); a ratio metric compares good/total (or bad/total) with the target.

Metric sources: `spec.metric` (and optional `spec.aggregation`) names a RunResult
metric; `spec.query` is PromQL, sent to the DataSource's `connectionDetails.url`.
"""

from __future__ import annotations

from typing import Any

import yaml

from assay import strict
from assay.config import ConfigError, ConfigIssue, KeyPath, validate_data, yaml_issue
from assay.results import BUILTIN_METRICS, MetricType, parse_metric_name
from assay.slo.criteria import format_number
from assay.slo.spec import SloFile

API_VERSION = "openslo/v1"
_OPS = {"lte": "<=", "lt": "<", "gte": ">=", "gt": ">"}


def is_openslo(documents: list[Any]) -> bool:
    return any(isinstance(d, dict) and str(d.get("apiVersion", "")).startswith("openslo/") for d in documents)


class _Reader:
    def __init__(self, documents: list[Any], source: str) -> None:
        self.source = source
        self.documents = documents
        self.slis: dict[str, tuple[int, dict[str, Any]]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        self.urls: list[str] = []

    def fail(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError([ConfigIssue(self.source, None, None, path, message)])

    def read(self) -> dict[str, Any]:
        slos: list[tuple[int, dict[str, Any]]] = []
        for i, doc in enumerate(self.documents):
            where: KeyPath = (f"document {i + 1}",)
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise self.fail(where, "expected an OpenSLO object (a mapping with apiVersion and kind)")
            if doc.get("apiVersion") != API_VERSION:
                raise self.fail((*where, "apiVersion"), f"expected {API_VERSION!r}, got {doc.get('apiVersion')!r}")
            kind = doc.get("kind")
            name = (doc.get("metadata") or {}).get("name")
            if not name:
                raise self.fail((*where, "metadata", "name"), "required key is missing")
            if kind == "SLO":
                slos.append((i, doc))
            elif kind == "SLI":
                self.slis[name] = (i, doc)
            elif kind == "DataSource":
                self.sources[name] = doc
            elif kind in ("AlertPolicy", "AlertCondition", "AlertNotificationTarget", "Service"):
                continue
            else:
                raise self.fail((*where, "kind"), f"unknown OpenSLO kind {kind!r}; expected SLO, SLI, DataSource, ...")
        if not slos:
            raise self.fail((), "no OpenSLO SLO object in the file")
        objectives: list[dict[str, Any]] = []
        for i, doc in slos:
            objectives.extend(self.slo(i, doc))
        out: dict[str, Any] = {"objectives": objectives}
        if len(slos) == 1:
            out["name"] = slos[0][1]["metadata"]["name"]
        if self.urls:
            out["prometheus"] = {"url": self.urls[0]}
        return out

    def slo(self, index: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        where: KeyPath = (f"document {index + 1}", "spec")
        spec = doc.get("spec") or {}
        meta = doc.get("metadata") or {}
        labels = meta.get("labels") or {}
        indicator = spec.get("indicator")
        if indicator is None and spec.get("indicatorRef"):
            ref = spec["indicatorRef"]
            if ref not in self.slis:
                raise self.fail((*where, "indicatorRef"), f"no SLI named {ref!r} in the file; SLIs: {', '.join(self.slis) or 'none'}")
            indicator = self.slis[ref][1]
        if not isinstance(indicator, dict):
            raise self.fail(where, "an SLO needs 'indicator' (an inline SLI) or 'indicatorRef'")
        sli_spec = indicator.get("spec") or {}
        objectives = spec.get("objectives") or []
        if not objectives:
            raise self.fail((*where, "objectives"), "an SLO needs at least one objective")
        out: list[dict[str, Any]] = []
        for j, obj in enumerate(objectives):
            opath: KeyPath = (*where, "objectives", j)
            name = meta["name"] if len(objectives) == 1 else f"{meta['name']}/{obj.get('displayName') or j + 1}"
            entry: dict[str, Any] = {
                "name": name,
                "display_name": obj.get("displayName") or meta.get("displayName") or meta["name"],
                "priority": _label(labels, "priority", "P1"),
                "key": str(_label(labels, "key", "false")).lower() == "true",
                "weight": int(round(float(obj.get("compositeWeight", 1)))),
            }
            entry.update(self.objective(sli_spec, obj, opath))
            out.append(entry)
        return out

    def objective(self, sli: dict[str, Any], obj: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        target = _target(obj)
        if "thresholdMetric" in sli:
            source = self.metric_source(sli["thresholdMetric"], (*path, "thresholdMetric"))
            op = obj.get("op")
            if op not in _OPS or "value" not in obj:
                raise self.fail(path, "a threshold objective needs 'op' (lte, lt, gte, gt) and 'value'")
            value = float(obj["value"])
            if value < 0:
                raise self.fail((*path, "value"), "negative thresholds cannot be expressed as Keptn criteria")
            if "sli" in source and "aggregation" not in source and target is not None and _is_trend(source["sli"]):
                share = target if op in ("lte", "lt") else 1 - target
                source["aggregation"] = f"p({format_number(round(share * 100, 6))})"
            return {**source, "pass": [f"{_OPS[op]}{format_number(value)}"]}
        if "ratioMetric" in sli:
            ratio = sli["ratioMetric"]
            if target is None:
                raise self.fail(path, "a ratio objective needs 'target' (0..1) or 'targetPercent' (0..100)")
            rpath: KeyPath = (*path, "ratioMetric")
            if "raw" in ratio:
                source = self.metric_source(ratio["raw"], (*rpath, "raw"))
                good = ratio.get("rawType", "success") == "success"
            else:
                total = ratio.get("total")
                part = ratio.get("good") if "good" in ratio else ratio.get("bad")
                if total is None or part is None:
                    raise self.fail(rpath, "a ratio metric needs 'total' and one of 'good' or 'bad' (or 'raw' with 'rawType')")
                good = "good" in ratio
                source = {
                    "ratio": {
                        "numerator": self.operand(part, (*rpath, "good" if good else "bad")),
                        "denominator": self.operand(total, (*rpath, "total")),
                    }
                }
            criterion = f">={format_number(target)}" if good else f"<={format_number(round(1 - target, 12))}"
            return {**source, "pass": [criterion]}
        raise self.fail(path, "the SLI needs 'thresholdMetric' or 'ratioMetric'")

    def operand(self, node: Any, path: KeyPath) -> dict[str, Any]:
        source = self.metric_source(node, path)
        if "prometheus" in source:
            source.pop("prometheus")
        return source

    def metric_source(self, node: Any, path: KeyPath) -> dict[str, Any]:
        if not isinstance(node, dict) or "metricSource" not in node:
            raise self.fail(path, "expected a 'metricSource'")
        ms = node["metricSource"] or {}
        spec = ms.get("spec") or {}
        if "metric" in spec:
            out: dict[str, Any] = {"sli": str(spec["metric"])}
            if spec.get("aggregation"):
                out["aggregation"] = str(spec["aggregation"])
            return out
        if "query" in spec or "promql" in spec:
            out = {"promql": str(spec.get("query") or spec.get("promql"))}
            url = spec.get("url")
            ref = ms.get("metricSourceRef")
            if url is None and ref:
                ds = self.sources.get(ref)
                if ds is None:
                    raise self.fail((*path, "metricSource", "metricSourceRef"), f"no DataSource named {ref!r} in the file")
                url = ((ds.get("spec") or {}).get("connectionDetails") or {}).get("url")
            if url:
                out["prometheus"] = str(url)
                self.urls.append(str(url))
            return out
        raise self.fail(
            (*path, "metricSource", "spec"),
            "expected 'metric' (a RunResult metric such as http_req_duration{name:read}) or 'query' (PromQL)",
        )


def _label(labels: Any, key: str, default: str) -> str:
    if isinstance(labels, dict):
        value = labels.get(f"assay.dev/{key}", labels.get(key, default))
        if isinstance(value, list):
            value = value[0] if value else default
        return str(value)
    return default


def _target(obj: dict[str, Any]) -> float | None:
    if "target" in obj:
        return float(obj["target"])
    if "targetPercent" in obj:
        return float(obj["targetPercent"]) / 100
    return None


def _is_trend(name: str) -> bool:
    base, _ = parse_metric_name(name)
    kind = BUILTIN_METRICS.get(base)
    return kind is None or kind[0] is MetricType.TREND


def parse_openslo(text: str, source: str = "<openslo>") -> SloFile:
    """Parse OpenSLO v1 YAML (one or many documents) into an SloFile."""
    documents = load_documents(text, source)
    return from_documents(documents, source)


def load_documents(text: str, source: str) -> list[Any]:
    """Every YAML document of `text`, read strictly (duplicate keys, alias bombs and deep nesting
    refused) with the located error a config file gets."""
    try:
        return strict.yaml_load_all(text)
    except strict.StrictError as exc:
        raise ConfigError([ConfigIssue(source, exc.line, exc.column, (), f"invalid YAML: {exc.message}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_issue(exc, source)]) from None


def from_documents(documents: list[Any], source: str = "<openslo>") -> SloFile:
    data = _Reader(documents, source).read()
    return validate_data(data, SloFile, source=source)
