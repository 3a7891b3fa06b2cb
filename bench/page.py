"""The benchmark report as one self-contained HTML page (inline CSS and SVG, no scripts,
nothing fetched): every figure next to its goal, and each benchmark's charts."""

from __future__ import annotations

from html import escape
from typing import Any

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1")
_W, _H, _PAD_L, _PAD_B, _PAD_T = 720, 240, 56, 48, 24


def _num(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    if value == int(value) and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"


def _verdict(passed: bool | None) -> str:
    verdicts: dict[bool | None, tuple[str, str]] = {True: ("PASS", "pass"), False: ("FAIL", "fail")}
    label, css = verdicts.get(passed, ("info", "info"))
    return f'<td class="{css}">{label}</td>'


def chart_svg(chart: dict[str, Any]) -> str:
    """Grouped bars with a y axis from 0 to the largest value, a legend above."""
    groups = [str(g) for g in chart["groups"]]
    series: dict[str, list[float]] = chart["series"]
    top = max((v for vs in series.values() for v in vs), default=0.0) or 1.0
    plot_w, plot_h = _W - _PAD_L - 8, _H - _PAD_B - _PAD_T
    slot = plot_w / max(1, len(groups))
    bar = slot * 0.8 / max(1, len(series))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img">'
    ]
    for i in range(5):  # grid lines and y labels
        y = _PAD_T + plot_h - plot_h * i / 4
        out.append(f'<line x1="{_PAD_L}" x2="{_W - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{top * i / 4:,.3g}</text>'
        )
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        for g, value in enumerate(values):
            h = plot_h * value / top
            x = _PAD_L + g * slot + slot * 0.1 + s * bar
            out.append(
                f'<rect x="{x:.1f}" y="{_PAD_T + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(name)} '
                f"{escape(groups[g])}: {_num(value)}</title></rect>"
            )
        out.append(
            f'<rect x="{_PAD_L + 150 * s}" y="4" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_PAD_L + 150 * s + 14}" y="13">{escape(name)}</text>'
        )
    step = max(1, len(groups) // 20)  # at most ~20 x labels
    for g in range(0, len(groups), step):
        x = _PAD_L + g * slot + slot / 2
        out.append(
            f'<text x="{x:.1f}" y="{_H - _PAD_B + 16}" text-anchor="middle">'
            f"{escape(groups[g])}</text>"
        )
    out.append(f'<text x="{_PAD_L}" y="{_H - 8}">{escape(str(chart["unit"]))}</text></svg>')
    return "".join(out)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#1a202c}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
td,th{border-bottom:1px solid #e2e8f0;padding:.3em .5em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.goal{white-space:nowrap}
.pass{color:#22543d;background:#c6f6d5;font-weight:600}
.fail{color:#742a2a;background:#fed7d7;font-weight:600}
.info{color:#4a5568}
svg text{font:11px system-ui,sans-serif;fill:#4a5568} svg .grid{stroke:#e2e8f0}
.note{color:#4a5568;margin:.2em 0}
"""


def render(reports: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The page for `python -m bench`'s JSON objects (benchmarks, then the summary)."""
    rows = []
    for r in reports:
        rid = escape(str(r["id"]))
        if "figures" not in r:
            why = r.get("skipped") or r.get("error") or ""
            rows.append(f"<tr><td>{rid}</td><td colspan=3>{escape(str(why))}</td>")
            rows.append('<td class="info">skipped</td></tr>' if "skipped" in r else "")
            rows.append('<td class="fail">CRASH</td></tr>' if "error" in r else "")
            continue
        for f in r["figures"]:
            rows.append(
                f"<tr><td>{rid}</td><td>{escape(f['name'])}</td>"
                f'<td class="num">{_num(f["value"])} {escape(f["unit"])}</td>'
                f'<td class="goal">{escape(f["goal"])}</td>{_verdict(f["pass"])}</tr>'
            )
    sections = []
    for r in reports:
        charts = r.get("charts") or []
        notes = r.get("notes") or []
        if not charts and not notes:
            continue
        sections.append(f"<h2>{escape(str(r['id']))} {escape(str(r.get('title', '')))}</h2>")
        for c in charts:
            sections.append(f"<h3>{escape(c['title'])}</h3>{chart_svg(c)}")
        sections += [f'<p class="note">{escape(str(n))}</p>' for n in notes]
    head = (
        f"passed: {' '.join(map(str, summary.get('passed', [])))} · "
        f"failed: {' '.join(map(str, summary.get('failed', [])))} · "
        f"crashed: {' '.join(map(str, summary.get('crashed', [])))} · "
        f"skipped: {' '.join(map(str, summary.get('skipped', [])))} · "
        f"{summary.get('seconds', 0)} s" + (" · quick sizes" if summary.get("quick") else "")
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>plait benchmarks</title><style>{_CSS}</style></head><body>"
        f"<h1>plait benchmarks</h1><p>{escape(head)}</p>"
        "<table><tr><th>id</th><th>figure</th><th>value</th><th>goal</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
        + "".join(sections)
        + "</body></html>\n"
    )
