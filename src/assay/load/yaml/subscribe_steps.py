"""`subscribe:` steps and `ledger:` requests of a YAML scenario: the delivery ledger (assay.messaging).

A `subscribe:` step opens the VU's WebSocket subscriber once and keeps it through the run's
grace period; a request marked `ledger: {key: ...}` carries the ledger's token and is acked
on success. What they do at run time is in assay.load.yaml.ledger_steps and assay.load.ledgered.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from assay.config import KeyPath
from assay.load.spec import Request, SubscribeStep
from assay.load.yaml.context import CompileContext, Compiled
from assay.load.yaml.template import Names, Scope, compile_template, compile_value
from assay.load.yaml.ws_steps import ws_url_template


def compile_subscribe(cx: CompileContext, st: SubscribeStep, path: KeyPath, names: Names, base_url: Any) -> Compiled | None:
    from assay.load.yaml.ledger_steps import subscribe_runner

    n_issues = len(cx.issues)
    url = cx.guard((*path, "subscribe"), lambda: compile_template(st.subscribe, names, "subscribe"))
    keys = [cx.guard((*path, "keys", i), partial(compile_template, k, names, "keys")) for i, k in enumerate(st.keys or [])]
    receiver_text = st.receiver
    receiver = (
        cx.guard((*path, "receiver"), lambda: compile_template(receiver_text, names, "receiver"))
        if receiver_text is not None
        else None
    )
    hdrs = cx.guard((*path, "headers"), lambda: compile_value(st.headers, names, "headers")) if st.headers else None
    if len(cx.issues) > n_issues or url is None:
        return None
    for part in (url, receiver, hdrs, *keys):
        if part is not None:
            cx.used_roots |= part.roots

    def header_fn(s: Scope) -> dict[str, str] | None:
        return None if hdrs is None else {str(k): str(v) for k, v in hdrs.render(s).items()}

    run = subscribe_runner(
        ws_url_template(base_url, url),
        [k.render for k in keys if k is not None] if st.keys is not None else None,
        receiver.render if receiver is not None else None,
        header_fn,
        st.name or "subscriber",
    )
    return Compiled(run, frozenset())


def ledger_mark(cx: CompileContext, req: Request, path: KeyPath, names: Names) -> tuple[Request, Names, Any, Any] | None:
    """A `ledger:` request: its body with `{{ ledger }}` placed, the names with `ledger`, and
    the key and producer renderers."""
    from assay.load.yaml.ledger_steps import LEDGER_NAME, mark_template

    assert req.ledger is not None
    mark = req.ledger
    try:
        placed = mark_template(req.url, req.json_, req.body, mark.field)
    except ValueError as exc:
        cx.issue((*path, "ledger"), str(exc))
        return None
    key = cx.guard((*path, "ledger", "key"), lambda: compile_template(mark.key, names, "ledger.key"))
    producer_text = mark.producer
    producer = (
        cx.guard((*path, "ledger", "producer"), lambda: compile_template(producer_text, names, "ledger.producer"))
        if producer_text is not None
        else None
    )
    if key is None:
        return None
    marked = req.model_copy(update={"json_": placed[0], "body": placed[1]})
    return marked, names.with_names({LEDGER_NAME: None}), key.render, producer.render if producer is not None else None
