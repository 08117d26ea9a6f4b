"""A small HTML page: pacticipants, latest pacts and the matrix, for humans with a browser."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assay.contracts.broker.models import Pacticipant, PactPublication, Verification, Version
from assay.contracts.broker.services.pacticipants import latest_version
from assay.contracts.broker.services.pacts import latest_pacts
from assay.contracts.broker.services.values import iso

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
th{background:#f3f3f3}.ok{color:#0a7a2a}.bad{color:#b00020}.unk{color:#8a6d00}
"""


def _consumer_versions(s: Session, content_id: int, shown: int = 3) -> str:
    """The consumer versions whose pact was this content (the newest few): what the verification covers."""
    numbers = s.scalars(
        select(Version.number)
        .join(PactPublication, PactPublication.consumer_version_id == Version.id)
        .where(PactPublication.pact_content_id == content_id)
        .order_by(Version.id.desc())
        .limit(shown + 1)
    ).all()
    text = ", ".join(numbers[:shown])
    return text + (", …" if len(numbers) > shown else "")


def render(s: Session, base: str) -> str:
    people = s.scalars(select(Pacticipant).order_by(Pacticipant.name)).all()
    counts = dict(
        s.execute(
            select(Version.pacticipant_id, func.count(Version.id)).group_by(Version.pacticipant_id)
        ).all()
    )
    rows = []
    for p in people:
        latest = latest_version(s, p)
        rows.append(
            f"<tr><td><a href='{escape(base)}/pacticipants/{escape(quote(p.name, safe=''))}'>{escape(p.name)}</a></td>"
            f"<td>{escape(p.main_branch or '')}</td><td>{counts.get(p.id, 0)}</td>"
            f"<td>{escape(latest.number) if latest else ''}</td></tr>"
        )
    pact_rows = []
    for ref in latest_pacts(s):
        ver = s.scalar(
            select(Verification)
            .where(Verification.pact_content_id == ref.content.id)
            .order_by(Verification.id.desc())
            .limit(1)
        )
        if ver is None:
            status = "<span class='unk'>unverified</span>"
        else:
            pv = s.get(Version, ver.provider_version_id)
            label = f"{'verified' if ver.success else 'failed'} by {pv.number if pv else '?'}"
            status = f"<span class='{'ok' if ver.success else 'bad'}'>{escape(label)}</span>"
        cv = ref.consumer_version.number if ref.consumer_version else ""
        href = (
            f"{base}/pacts/provider/{quote(ref.provider.name, safe='')}"
            f"/consumer/{quote(ref.consumer.name, safe='')}/pact-version/{ref.content.sha}"
        )
        pact_rows.append(
            f"<tr><td>{escape(ref.consumer.name)}</td><td>{escape(cv)}</td><td>{escape(ref.provider.name)}</td>"
            f"<td><a href='{escape(href)}'>{ref.content.sha[:10]}</a></td><td>{iso(ref.content.created_at)}</td>"
            f"<td>{status}</td></tr>"
        )
    matrix_rows = []
    recent = s.scalars(select(Verification).order_by(Verification.id.desc()).limit(50)).all()
    for ver in recent:
        consumer = s.get(Pacticipant, ver.consumer_id)
        provider = s.get(Pacticipant, ver.provider_id)
        pv = s.get(Version, ver.provider_version_id)
        cv = _consumer_versions(s, ver.pact_content_id)
        matrix_rows.append(
            f"<tr><td>{escape(consumer.name if consumer else '')}</td><td>{escape(cv)}</td>"
            f"<td>{escape(provider.name if provider else '')}</td><td>{escape(pv.number if pv else '')}</td>"
            f"<td class='{'ok' if ver.success else 'bad'}'>{'success' if ver.success else 'failed'}</td>"
            f"<td>{iso(ver.created_at)}</td></tr>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>assay broker</title><style>{_STYLE}</style></head>
<body><h1>assay broker</h1>
<h2>Pacticipants</h2>
<table><tr><th>Name</th><th>Main branch</th><th>Versions</th><th>Latest version</th></tr>{"".join(rows)}</table>
<h2>Latest pacts</h2>
<table><tr><th>Consumer</th><th>Consumer version</th><th>Provider</th><th>Pact version</th><th>Published</th>
<th>Latest verification</th></tr>{"".join(pact_rows)}</table>
<h2>Matrix (latest 50 verification results)</h2>
<table><tr><th>Consumer</th><th>Consumer version</th><th>Provider</th><th>Provider version</th><th>Result</th>
<th>Verified at</th></tr>
{"".join(matrix_rows)}</table>
</body></html>
"""
