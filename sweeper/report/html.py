"""The self-contained `report.html`: inline CSS, plots as base64 PNG data URIs, no scripts and no
external resources, so it opens offline and can be mailed as one file."""

from __future__ import annotations

import base64
import html
import re

from sweeper.report.plots import Section

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1300px; padding: 0 16px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; } .best { background: #eef7ee; border: 1px solid #9c9; padding: 8px 12px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; white-space: nowrap; }
th { background: #f3f3f3; } tr.unranked td { color: #666; }
td.fail { color: #b00; font-weight: 600; }
figure { margin: 10px 0; } figcaption { color: #555; font-size: 12px; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #444; }
img.pixelated { width: 640px; image-rendering: pixelated; } .wide { overflow-x: auto; }
"""


def inline(text: str) -> str:
    """Escapes text and turns `code` spans into <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def table(header: list[str], rows: list[list[str]], rank_col: bool = False) -> str:
    out = [
        '<div class="wide"><table>',
        "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>",
    ]
    for row in rows:
        cls = ' class="unranked"' if rank_col and row[0] == "–" else ""
        cells = "".join(
            f'<td class="fail">{html.escape(c)}</td>'
            if c.startswith("FAILED")
            else f"<td>{html.escape(c)}</td>"
            for c in row
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def section(sec: Section) -> str:
    parts = [f'<section id="plot-{sec.name}">', f"<h2>{html.escape(sec.title)}</h2>"]
    cls = ' class="pixelated"' if sec.pixelated else ""
    for caption, data in sec.images:
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure><img{cls} alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    if sec.text:
        parts.append(f'<p class="note">{inline(sec.text)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def page(
    title: str,
    intro: list[str],
    best: str,
    board: tuple[list[str], list[list[str]]],
    seeds: tuple[list[str], list[list[str]]] | None,
    sections: list[Section],
) -> str:
    body = [f"<h1>{html.escape(title)}</h1>"]
    body += [f'<p class="meta">{inline(line)}</p>' for line in intro]
    body.append(f'<p class="best">{inline(best)}</p>')
    body.append('<section id="leaderboard"><h2>Leaderboard</h2>')
    body.append(table(*board, rank_col=True))
    body.append("</section>")
    if seeds:
        body.append('<section id="seeds"><h2>Over seeds (mean ± sample std)</h2>')
        body.append(table(*seeds))
        body.append("</section>")
    body += [section(s) for s in sections]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
