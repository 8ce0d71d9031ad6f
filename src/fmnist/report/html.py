"""One self-contained HTML page: inline CSS, images as base64 data URIs, every text escaped.

A report is mailed, uploaded to a course site or opened from a phone; nothing it shows may depend
on files beside it or on the network.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path

from fmnist.runs import atomic_write

_MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; \
padding: 1rem;
       max-width: 1000px; color: #1f2328; background: #fff; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: .5rem 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; \
border-bottom: 1px solid #d0d7de; }
p.sub { color: #57606a; margin: 0 0 1rem; overflow-wrap: anywhere; }
figure { margin: 1rem 0; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #eaeef2; \
border-radius: 6px; }
figure.half img { max-width: 560px; margin: 0 auto; }
figcaption { color: #57606a; font-size: .9rem; margin-top: .3rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .6rem; \
margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: .6rem .8rem; background: #f6f8fa; }
.card .label { font-size: .8rem; color: #57606a; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 1.35rem; font-weight: 600; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid #eaeef2; text-align: right; \
white-space: nowrap; }
th { background: #f6f8fa; }
th:first-child, td:first-child { text-align: left; }
td.below { color: #b35900; }
p.note { background: #fff8c5; border: 1px solid #eedc82; border-radius: 6px; padding: .5rem .8rem; }
nav { font-size: .9rem; }
nav a { margin-right: .8rem; white-space: nowrap; }
@media (max-width: 600px) { body { padding: .6rem; } h1 { font-size: 1.3rem; } \
.card .value { font-size: 1.1rem; } }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def data_uri(path: Path) -> str:
    path = Path(path)
    return f"data:{_MIME[path.suffix.lower()]};base64," + base64.b64encode(
        path.read_bytes()
    ).decode("ascii")


class Page:
    """Sections appended in reading order, then ``write`` once."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title, self.subtitle = title, subtitle
        self.parts: list[str] = []
        self.toc: list[tuple[str, str]] = []

    def section(self, title: str) -> None:
        anchor = f"s{len(self.toc) + 1}"
        self.toc.append((anchor, title))
        self.parts.append(f'<h2 id="{anchor}">{esc(title)}</h2>')

    def text(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>")

    def figure(
        self, path: Path, caption: str, alt: str | None = None, *, half: bool = False
    ) -> None:
        cls = ' class="half"' if half else ""
        self.parts.append(
            f'<figure{cls}><img src="{data_uri(path)}" alt="{esc(alt or caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )

    def cards(self, items: Iterable[tuple[str, str]]) -> None:
        cells = "".join(
            (
                f'<div class="card"><div class="label">{esc(k)}</div>'
                f'<div class="value">{esc(v)}</div></div>'
            )
            for k, v in items
        )
        self.parts.append(f'<div class="cards">{cells}</div>')

    def table(
        self,
        header: list[str],
        rows: list[list[object]],
        *,
        cell_class: dict[tuple[int, int], str] | None = None,
        table_id: str = "",
    ) -> None:
        """A table; ``cell_class[(row, col)]`` adds a CSS class to one cell (e.g. below a reported
        number)."""
        cell_class = cell_class or {}
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="{cell_class[(r, c)]}">{esc(v)}</td>'
                if (r, c) in cell_class
                else f"<td>{esc(v)}</td>"
                for c, v in enumerate(row)
            )
            + "</tr>"
            for r, row in enumerate(rows)
        )
        ident = f' id="{esc(table_id)}"' if table_id else ""
        self.parts.append(
            f'<div class="table-wrap"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )

    def render(self) -> str:
        nav = " ".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in self.toc)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>"
            f'<h1>{esc(self.title)}</h1><p class="sub">{esc(self.subtitle)}</p><nav>{nav}</nav>'
            + "\n".join(self.parts)
            + "</body></html>\n"
        )

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, self.render())
        return path
