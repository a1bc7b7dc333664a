"""`quakeslide report`: a result folder to report.html and its markdown twin report.md."""

from __future__ import annotations

from pathlib import Path

from quakeslide.errors import InputError
from quakeslide.io.raster import atomic_path, writable_folder
from quakeslide.options import named
from quakeslide.reporting.folder_report import build_report
from quakeslide.reporting.render import HTML_MARK, MARKDOWN_MARK, render_html, render_markdown


def write_report(folder: Path, out: Path) -> tuple[Path, Path]:
    """-> (html, markdown). Figures made for the report go to `<out stem>_files/`."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        out = out.with_suffix(".html")
    markdown = out.with_suffix(".md")
    for path, mark in ((out, HTML_MARK), (markdown, MARKDOWN_MARK)):
        refuse_foreign_file(path, mark)
    writable_folder(out.parent)
    report = build_report(Path(folder), out.parent / f"{out.stem}_files")
    with atomic_path(out) as tmp:
        tmp.write_text(render_html(report), encoding="utf-8")
    with atomic_path(markdown) as tmp:
        tmp.write_text(render_markdown(report, markdown), encoding="utf-8")
    return out, markdown


def refuse_foreign_file(path: Path, mark: str) -> None:
    """InputError if `path` exists and is not a page `report` wrote (it holds no `mark`)."""
    if path.is_dir():
        raise InputError(
            f"{path}: is a folder; give {named('out')} a file name such as report.html"
        )
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    if mark not in head:
        raise InputError(
            f"{path}: exists and report did not write it; use another {named('out')}"
            " (report never replaces such a file)"
        )
