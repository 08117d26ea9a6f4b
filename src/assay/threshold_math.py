"""Arithmetic over aggregates in thresholds: cross-metric comparisons and ratios.

k6's grammar compares one aggregate of one metric with a number (`p(95)<500`). Service
metrics scraped during a run need more: "every message sent was delivered" compares two
metrics, and a cache hit ratio divides two counters:

    courier_messages_delivered_total: delta == messages_sent
    courier_cache_hits_total:         delta / (delta + courier_cache_misses_total.delta) > 0.9
    courier_queue_depth:              max < 1000

Either side of the operator is an expression of numbers, `+ - * /`, parentheses and
operands. An operand is an aggregation of the threshold's own metric (`delta`, `p(95)`)
or another metric, `name[.aggregation]` (k6 metric names never contain dots), with tags
as in k6 (`http_reqs{status:200}.count`). Without an aggregation a referenced metric is
read with its type's natural one: count for counters, rate for rates, value for gauges,
avg for trends. A plain k6 expression never reaches this module.

This is a parser for a tiny language, not `eval`: nothing but these forms is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# what an operand resolves to: (metric name or None for the threshold's own metric, aggregation) -> value
Lookup = Callable[[str | None, str | None], float | None]

OWN_AGGREGATIONS = frozenset({"avg", "min", "max", "med", "count", "rate", "value", "delta", "last"})
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<pct>p\(\s*\d+(?:\.\d+)?\s*\))"
    r"|(?P<ref>[A-Za-z_][A-Za-z0-9_]*(?:\{[^}]*\})?(?:\.(?:p\(\s*\d+(?:\.\d+)?\s*\)|[A-Za-z_]+))?)"
    r"|(?P<op>[-+*/()])"
    r")"
)


class MathError(ValueError):
    """An expression outside the accepted forms (the caller adds where it was written)."""


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    """An aggregate: of the threshold's own metric (`metric` None) or of another metric."""

    metric: str | None
    aggregation: str | None


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    inner: Node


Node = Num | Ref | BinOp | Neg


def parse_expression(text: str) -> Node:
    tokens = _tokenize(text)
    pos, node = _expr(tokens, 0, text)
    if pos != len(tokens):
        raise MathError(f"unexpected {tokens[pos][1]!r} in {text!r}")
    return node


def is_plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def refs(node: Node) -> list[Ref]:
    """Every operand of an expression, in order."""
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, BinOp):
        return refs(node.left) + refs(node.right)
    if isinstance(node, Neg):
        return refs(node.inner)
    return []


def evaluate(node: Node, lookup: Lookup) -> float | None:
    """The expression's value; None when an operand has no value yet (or a division by zero)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return lookup(node.metric, node.aggregation)
    if isinstance(node, Neg):
        inner = evaluate(node.inner, lookup)
        return None if inner is None else -inner
    left = evaluate(node.left, lookup)
    right = evaluate(node.right, lookup)
    if left is None or right is None:
        return None
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return left / right if right else None


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            raise MathError(f"cannot read {stripped[pos:]!r} in {text!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind).strip()))
        pos = m.end()
    if not tokens:
        raise MathError("empty expression")
    return tokens


def _expr(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[int, Node]:
    pos, node = _term(tokens, pos, text)
    while pos < len(tokens) and tokens[pos] in (("op", "+"), ("op", "-")):
        op = tokens[pos][1]
        pos, right = _term(tokens, pos + 1, text)
        node = BinOp(op, node, right)
    return pos, node


def _term(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[int, Node]:
    pos, node = _factor(tokens, pos, text)
    while pos < len(tokens) and tokens[pos] in (("op", "*"), ("op", "/")):
        op = tokens[pos][1]
        pos, right = _factor(tokens, pos + 1, text)
        node = BinOp(op, node, right)
    return pos, node


def _factor(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[int, Node]:
    if pos >= len(tokens):
        raise MathError(f"{text!r} ends where a number or a metric was expected")
    kind, value = tokens[pos]
    if kind == "number":
        return pos + 1, Num(float(value))
    if kind == "pct":
        return pos + 1, Ref(None, value.replace(" ", ""))
    if kind == "ref":
        return pos + 1, _ref(value)
    if value == "-":
        pos, inner = _factor(tokens, pos + 1, text)
        return pos, Neg(inner)
    if value == "(":
        pos, node = _expr(tokens, pos + 1, text)
        if pos >= len(tokens) or tokens[pos] != ("op", ")"):
            raise MathError(f"missing ')' in {text!r}")
        return pos + 1, node
    raise MathError(f"unexpected {value!r} in {text!r}")


def _ref(text: str) -> Ref:
    if text in OWN_AGGREGATIONS:
        return Ref(None, text)
    close = text.rfind("}")
    dot = text.find(".", close + 1)
    if dot < 0:
        return Ref(text, None)
    return Ref(text[:dot], text[dot + 1 :].replace(" ", ""))


def render(node: Node) -> str:
    """The expression written back (normalised spacing), for messages."""
    if isinstance(node, Num):
        return str(int(node.value)) if node.value.is_integer() else repr(node.value)
    if isinstance(node, Ref):
        if node.metric is None:
            return str(node.aggregation)
        return node.metric + (f".{node.aggregation}" if node.aggregation else "")
    if isinstance(node, Neg):
        return f"-{render(node.inner)}"
    return f"({render(node.left)} {node.op} {render(node.right)})"
