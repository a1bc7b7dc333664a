"""`quakeslide report`: a result folder to report.html and its markdown twin report.md."""

from __future__ import annotations

from pathlib import Path

from quakeslide.io.raster import atomic_path, writable_folder
from quakeslide.reporting.folder_report import build_report
from quakeslide.reporting.render import render_html, render_markdown


def write_report(folder: Path, out: Path) -> tuple[Path, Path]:
    """-> (html, markdown). Figures made for the report go to `<out stem>_files/`."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        out = out.with_suffix(".html")
    writable_folder(out.parent)
    report = build_report(Path(folder), out.parent / f"{out.stem}_files")
    markdown = out.with_suffix(".md")
    with atomic_path(out) as tmp:
        tmp.write_text(render_html(report), encoding="utf-8")
    with atomic_path(markdown) as tmp:
        tmp.write_text(render_markdown(report, markdown), encoding="utf-8")
    return out, markdown
