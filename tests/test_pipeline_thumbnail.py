import threading

import numpy as np
import pytest

from quakeslide.inference.pipeline import run_behind
from quakeslide.reporting.thumbnail import Thumbnail


def test_run_behind_consumes_everything_in_order_in_another_thread():
    threads = []

    def consume(items):
        threads.append(threading.get_ident())
        return list(items)

    assert run_behind(iter(range(50)), consume, depth=2) == list(range(50))
    assert threads and threads[0] != threading.get_ident()


def test_run_behind_raises_the_consumers_error():
    def consume(items):
        for item in items:
            if item == 3:
                raise ValueError("bad band")

    with pytest.raises(ValueError, match="bad band"):
        run_behind(iter(range(100)), consume)


def test_run_behind_raises_the_producers_error_and_stops_the_consumer():
    seen = []

    def produce():
        yield from range(5)
        raise KeyboardInterrupt

    def consume(items):
        for item in items:
            seen.append(item)
        seen.append("finished")  # must not happen: the input was cut short

    with pytest.raises(KeyboardInterrupt):
        run_behind(produce(), consume)
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("height,width,max_side,band", [(40, 60, 10, 7), (33, 17, 100, 5)])
def test_thumbnail_is_the_area_average_of_bands(height, width, max_side, band):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3, height, width), dtype=np.uint8)
    thumbnail = Thumbnail(height, width, 3, max_side)
    for row in range(0, height, band):
        thumbnail.add(row, image[:, row : row + band])
    picture = thumbnail.picture()
    assert picture.shape == (3, thumbnail.out_h, thumbnail.out_w)
    assert max(picture.shape[1:]) <= max_side
    rows = np.arange(height) * thumbnail.out_h // height
    cols = np.arange(width) * thumbnail.out_w // width
    for r, c in [(0, 0), (thumbnail.out_h - 1, thumbnail.out_w - 1), (thumbnail.out_h // 2, 1)]:
        cell = image[:, rows == r][:, :, cols == c]
        assert np.abs(picture[:, r, c] - cell.mean(axis=(1, 2))).max() <= 0.5


def test_report_cells_and_markdown_keep_their_columns():
    from quakeslide.reporting.render import _markdown_table
    from quakeslide.reporting.report_model import Table, cell

    assert [cell(v) for v in (float("inf"), 3.0, 0.12345, float("nan"), None)] == [
        "inf", "3", "0.1235", "-", "-",
    ]  # fmt: skip
    row = _markdown_table(Table("c", ["k", "v"], [["a|b", "x"]]))[4]
    assert row == "| a\\|b | x |"


def test_quicklook_of_a_one_row_strip(tmp_path):
    from affine import Affine
    from PIL import Image

    from quakeslide.reporting.quicklook import Outlines, save_quicklook

    picture = np.full((3, 1, 16), 200, np.uint8)
    outlines = Outlines(1, 16, Affine.identity(), (0.1, 0.1))
    out = save_quicklook(outlines.over(picture), tmp_path / "q.png")
    with Image.open(out) as png:
        assert png.size == (16, 1)
