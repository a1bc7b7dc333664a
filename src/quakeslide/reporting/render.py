"""A Report as one self-contained HTML page (figures embedded) and as its markdown twin."""

from __future__ import annotations

import base64
import html
import itertools
import os
from pathlib import Path

from quakeslide.reporting.map_page import MAP_SCRIPT, leaflet_assets, map_html
from quakeslide.reporting.report_model import Figure, Report, SceneMap, Table, cell

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3em 0; }
figure { margin: 1em 0 2em; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; } .source { color: #666; font-size: .9em; }
"""


# What marks a page as written by `report`: only such a file is ever replaced by another
HTML_MARK = '<meta name="generator" content="quakeslide report">'
MARKDOWN_MARK = "<!-- written by quakeslide report -->"


def render_html(report: Report) -> str:
    has_maps = any(section.maps for section in report.sections)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8">{HTML_MARK}',
        f"<title>{html.escape(report.title)}</title><style>{STYLE}</style>",
        *([leaflet_assets(), MAP_SCRIPT] if has_maps else []),
        "</head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="source">{html.escape(str(report.source))}</p>',
    ]
    maps = itertools.count()
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(line)}</p>" for line in section.text]
        parts += [_html_table(table) for table in section.tables]
        parts += [map_html(scene, next(maps)) for scene in section.maps]
        for figure in section.figures:
            data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(figure.caption)}" '
                f'src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(report: Report, markdown_path: Path) -> str:
    """Figures are linked relative to `markdown_path`'s folder."""
    lines = [MARKDOWN_MARK, f"# {_md(report.title)}", "", f"`{report.source}`", ""]
    for section in report.sections:
        lines += [f"## {_md(section.title)}", ""]
        for line in section.text:
            lines += [_md(line), ""]
        for table in section.tables:
            lines += _markdown_table(table)
        figures = section.figures + [
            Figure(f"{scene.name}: landslide outlines (cyan)", scene.picture)
            for scene in section.maps
            if scene.picture is not None
        ]
        lines += [line for scene in section.maps for line in _markdown_table(largest_table(scene))]
        for figure in figures:
            link = os.path.relpath(figure.path, markdown_path.parent)
            lines += [
                f"![{figure.caption}]({Path(link).as_posix()})",
                "",
                f"*{figure.caption}*",
                "",
            ]
    return "\n".join(lines)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{html.escape(table.caption)}</caption>"
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md(text: str) -> str:
    """Names from result files as text, as the HTML page escapes them (no raw HTML)."""
    return html.escape(text, quote=False)


def _markdown_table(table: Table) -> list[str]:
    def line(values: list[str]) -> str:
        return "| " + " | ".join(_md(v).replace("|", "\\|") for v in values) + " |"

    return [
        f"**{_md(table.caption)}**",
        "",
        line(table.header),
        "|" + "|".join("---" for _ in table.header) + "|",
        *(line(row) for row in table.rows),
        "",
    ]


MARKDOWN_LANDSLIDES = 20


def largest_table(scene: SceneMap) -> Table:
    """The largest landslides of a map, for the markdown twin (the HTML lists them all)."""
    features = scene.landslides["features"][:MARKDOWN_LANDSLIDES]
    rows = [
        [str(p["id"]), *(cell(p[key]) for key, _, _ in scene.columns)]
        for p in (f["properties"] for f in features)
    ]
    caption = f"{scene.name}: the {len(rows)} largest of {scene.total} landslides"
    return Table(caption, ["id", *(header for _, header, _ in scene.columns)], rows)
