"""Raster I/O: opening scenes, iterating windows, atomic GeoTIFF writes. No torch here."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

import rasterio
import rasterio.shutil
from rasterio.io import DatasetReader

from quakeslide.errors import InputError
from quakeslide.options import named

P = ParamSpec("P")
R = TypeVar("R")


def open_scene(path: Path) -> DatasetReader:
    """Open a raster, turning rasterio's errors into one-line messages naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{path}: not a readable raster ({err})") from err


def refuse_output_over_input(out: Path, *inputs: Path, within: tuple[Path, ...] = ()) -> None:
    """InputError if `out` is one of `inputs`, or lies inside one of the `within` folders
    (a dataset's images/ or masks/, which other commands read as they are)."""
    target = Path(out).resolve()
    for source in map(Path, inputs):
        if target == source.resolve():
            raise InputError(f"{out}: is the input {source}; use another {named('out')}")
    for folder in map(Path, within):
        if folder.resolve() in (target, *target.parents):
            raise InputError(
                f"{out}: is inside the input folder {folder}; use another {named('out')}"
            )


def writable_folder(folder: Path) -> Path:
    """Create `folder` if needed and prove a file can be written there, else InputError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise InputError(f"{folder}: cannot write outputs there ({err.strerror})") from None
    return folder


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it into place only if the block succeeds.

    A killed or failing writer therefore never leaves a file under the final name.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale(folder: Path, prefix: str) -> None:
    """Remove the hidden temporary files / folders (`prefix`*) a killed run left in `folder`."""
    for path in Path(folder).glob(f"{prefix}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_path(beside: Path) -> Iterator[Path]:
    """A hidden temporary path beside `beside`, removed when the block ends, however."""
    beside = Path(beside)
    fd, name = tempfile.mkstemp(
        prefix=f".{beside.stem}.", suffix=f".stream{beside.suffix}", dir=beside.parent
    )
    os.close(fd)
    scratch = Path(name)
    scratch.unlink()
    try:
        yield scratch
    finally:
        scratch.unlink(missing_ok=True)


def copy_as_cog(source: Path, target: Path, threads: int = 2) -> Path:
    """Copy a tiled GeoTIFF with overviews to a Cloud Optimized GeoTIFF (GDAL's COG
    driver: overviews before the full resolution), keeping its overviews, colour table,
    descriptions, scales and mask. It reads and writes block by block: memory stays flat.
    """
    with rasterio.Env(GDAL_NUM_THREADS=threads):
        rasterio.shutil.copy(
            source, target, driver="COG", COMPRESS="DEFLATE", LEVEL=1, PREDICTOR="2",
            BLOCKSIZE=TILE, OVERVIEWS="FORCE_USE_EXISTING", NUM_THREADS=threads,
        )  # fmt: skip
    return target


GDAL_CACHE_MB = 128
BAND_PASS_CACHE_MIN_MB = 64
TILE = 256  # side of the output GeoTIFF tiles


def band_pass_cache_mb(input_rows_bytes: int, width: int, outputs: int) -> int:
    """GDAL block cache for a pass down a scene in bands of rows, in MB.

    It holds two rows of input blocks (windows overlap them) and two rows of output tiles
    of `outputs` one-byte rasters, + 16 MB: narrower, a wide scene re-decodes its input
    tiles and flushes half-written output tiles. Larger, RSS grows with the scene: a fixed
    128 MB cache held all of a 4000 px scene but 128 MB of a 16000 px one (+80 MB RSS).
    """
    needed = 2 * input_rows_bytes + 2 * width * TILE * outputs
    return max(BAND_PASS_CACHE_MIN_MB, -(-needed // 2**20) + 16)


def bounded_gdal_cache() -> rasterio.Env:
    """GDAL's block cache defaults to 5 % of RAM; windowed passes need only a few blocks."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def with_bounded_gdal_cache(function: Callable[P, R]) -> Callable[P, R]:
    """Run the whole of `function` inside `bounded_gdal_cache()`."""

    @functools.wraps(function)
    def bounded(*args: P.args, **kwargs: P.kwargs) -> R:
        with bounded_gdal_cache():
            return function(*args, **kwargs)

    return bounded


def geotiff_profile(reference: dict, count: int, dtype: str, nodata: float | None) -> dict:
    """Tiled, compressed GeoTIFF profile on the grid (crs, transform, size) of `reference`."""
    profile = {
        "driver": "GTiff",
        "height": reference["height"],
        "width": reference["width"],
        "count": count,
        "dtype": dtype,
        "crs": reference.get("crs"),
        "transform": reference.get("transform"),
        "nodata": nodata,
        "tiled": True,
        "blockxsize": TILE,
        "blockysize": TILE,
        "compress": "deflate",
        # level 1 + horizontal differencing: 2.8x faster than the default level 6 (writes
        # and overviews of a 4000 px probability raster) and the file 30 % smaller
        "zlevel": 1,
        "predictor": 2,
        "interleave": "band" if count == 1 else "pixel",
    }
    if reference["width"] < 256 or reference["height"] < 256:
        profile.update(tiled=False, blockxsize=None, blockysize=None)
        profile = {k: v for k, v in profile.items() if v is not None}
    return profile


RASTER_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".jp2", ".img", ".vrt")


def expand_scenes(paths: list[Path], skip: Callable[[Path], bool] = lambda _: False) -> list[Path]:
    """Scene files, with each folder replaced by the rasters directly inside it (sorted),
    leaving out those `skip` names (a tool's own outputs)."""
    scenes = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix.lower() in RASTER_SUFFIXES and not skip(p)
            )
            if not found:
                raise InputError(f"{path}: folder holds no raster ({', '.join(RASTER_SUFFIXES)})")
            scenes.extend(found)
        else:
            scenes.append(path)
    refuse_duplicate_stems(scenes)
    return scenes


def refuse_duplicate_stems(scenes: list[Path]) -> None:
    """Outputs are named after the scene's stem, so two scenes must not share one."""
    seen: dict[str, Path] = {}
    for scene in scenes:
        if scene.stem in seen:
            raise InputError(f"{scene}: same name as {seen[scene.stem]}; rename one of them")
        seen[scene.stem] = scene
