"""The final console table of a chaos run: hypothesis probes, activities, rollbacks, verdict."""

from __future__ import annotations

from typing import Any


def _row(cols: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()


def render_table(journal: dict[str, Any]) -> str:
    rows: list[list[str]] = []
    for phase in ("before", "after"):
        state = journal["steady_states"].get(phase)
        for p in (state or {}).get("probes", []):
            rows.append([f"hypothesis {phase}", str(p["activity"].get("name")), p.get("status", ""),
                         "met" if p.get("tolerance_met") else "NOT MET", f"{p.get('duration', 0):.2f}s"])
    during = journal["steady_states"].get("during") or []
    if during:
        met = sum(1 for s in during if s and s.get("steady_state_met"))
        rows.append(["hypothesis during", f"{len(during)} runs", "", f"{met}/{len(during)} met", ""])
    for section, label in (("run", "method"), ("rollbacks", "rollback")):
        for e in journal.get(section, []):
            rows.append([label, str(e["activity"].get("name")), e.get("status", ""), "", f"{e.get('duration', 0):.2f}s"])
    recovery = (journal.get("x-assay") or {}).get("recovery")
    if recovery:
        ttr = recovery.get("time_to_recover_s")
        rows.append(["recovery", "time to recover", "recovered" if recovery["recovered"] else "NOT RECOVERED",
                     "within target" if recovery["within_target"] else "MISSED TARGET", f"{ttr:.2f}s" if ttr is not None else "-"])
    detect = (journal.get("x-assay") or {}).get("detection") or {}
    if detect:
        ttd = detect.get("time_to_detect_s")
        rows.append(["detection", "time to detect", str(detect.get("detected_by") or "not detected"), "",
                     f"{ttd:.2f}s" if ttd is not None else "-"])
    guard = (journal.get("x-assay") or {}).get("guard")
    if guard:
        rows.append(["guard", "aborted", str(guard), "", ""])
    header = ["phase", "activity", "status", "tolerance", "duration"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), _row(["-" * w for w in widths], widths)]
    lines += [_row(r, widths) for r in rows]
    verdict = "DEVIATED" if journal.get("deviated") else str(journal.get("status")).upper()
    lines.append(f"\n{journal['experiment'].get('title')}: {verdict} in {journal.get('duration', 0):.2f}s")
    return "\n".join(lines)
