"""Checks shared by the tests that build a report of a result folder."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from quakeslide.cli import app


def check_report(
    folder: Path, out: Path, title: str, figures: int, markdown_figures: int | None = None
) -> str:
    """Build the report of `folder`; check it is self-contained and its twin's links resolve.

    `markdown_figures`: where the twin shows more (a map page's pictures), else `figures`.
    """
    result = CliRunner().invoke(app, ["report", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert title in page and "<table>" in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == figures
    assert all(s.startswith("data:image/png;base64,") for s in sources), "not self-contained"
    markdown = out.with_suffix(".md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(links) == (figures if markdown_figures is None else markdown_figures)
    assert all((out.parent / link).is_file() for link in links)
    return page
