"""Synthetic post-earthquake optical scenes with landslide truth.

The scenes imitate pan-sharpened QuickBird imagery (0.61 m) of the Wenchuan area after the
2008 earthquake: steep vegetated slopes with fresh bare-soil scars, plus the confusers that
make the task hard: a river with bright gravel bars, roads and houses.

All geometry is built first as shapely vectors (:func:`build_layout`); the raster is then
rendered window by window (:func:`render_window`). Every per-pixel field is a pure function of
absolute pixel coordinates (hashed value noise, sums of sinusoids) and vectors are burned per
window, so a pixel does not depend on the window it was rendered in and memory does not grow
with the scene size beyond the vector lists.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine, from_origin
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform
from scipy.ndimage import gaussian_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely import LineString, Polygon, STRtree
from shapely.affinity import translate

__all__ = [
    "SceneLayout",
    "SceneSpec",
    "SyntheticScene",
    "build_layout",
    "landslide_polygons",
    "make_scene",
    "render_window",
]

_SUN_AZIMUTH = math.radians(315.0)  # light from the north-west: relief reads naturally
_SUN_ALTITUDE = math.radians(45.0)
_SUN = np.array(
    [
        math.sin(_SUN_AZIMUTH) * math.cos(_SUN_ALTITUDE),
        math.cos(_SUN_AZIMUTH) * math.cos(_SUN_ALTITUDE),
        math.sin(_SUN_ALTITUDE),
    ]
)
_PAD = 3  # halo rendered around each window so the optical blur is seamless
_BLUR_SIGMA = 0.6
_HAZE = np.array([9.0, 11.0, 17.0], dtype=np.float32)
_SENSOR_NOISE = 3.0  # DN, per band

_FOREST = np.array([34.0, 56.0, 30.0], dtype=np.float32)
_SHRUB = np.array([86.0, 100.0, 50.0], dtype=np.float32)
_WATER_SHALLOW = np.array([112.0, 134.0, 128.0], dtype=np.float32)
_WATER_DEEP = np.array([78.0, 110.0, 112.0], dtype=np.float32)
_DRY = np.array([122.0, 117.0, 80.0], dtype=np.float32)  # sparse dry-valley grass and shrub

# Noise field identifiers, mixed with the seed into hash keys.
_F_VEG, _F_TONE, _F_CROWN, _F_SHADOW, _F_SOIL, _F_STREAK, _F_PATCH = range(7)
_F_GRAVEL, _F_WATER, _F_ROAD, _F_ROOF, _F_DAMP, _F_DRY, _F_FIELD = range(7, 14)
_F_NOISE = 20  # + band index

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class SceneSpec:
    """What to generate.

    ``landslide_density`` is the areal density (fraction of the scene covered by landslide
    scars) that placement aims for; the realised fraction is reported by :func:`make_scene`.
    Landslide areas are log-uniform between ``min_landslide_area`` and ``max_landslide_area``,
    the latter capped at 3 % of the scene area so that small scenes hold several landslides.
    ``roads`` and ``houses`` are counts; ``None`` scales them with the scene area (1.5 roads
    and 30 houses per km2, at least two roads and six houses). ``farmland`` adds terraced
    fields around most house clusters, some of them bare tilled soil.
    """

    height: int = 2048
    width: int = 2048
    seed: int = 0
    pixel_size: float = 0.61
    crs: str = "EPSG:32648"
    origin: tuple[float, float] = (330000.0, 3440000.0)
    landslide_density: float = 0.11
    min_landslide_area: float = 50.0
    max_landslide_area: float = 20000.0
    river: bool = True
    roads: int | None = None
    houses: int | None = None
    farmland: bool = True

    def __post_init__(self) -> None:
        if self.height < 64 or self.width < 64:
            raise ValueError("scenes must be at least 64 x 64 pixels")
        if self.pixel_size <= 0:
            raise ValueError("pixel_size must be positive")
        if not 0.0 <= self.landslide_density <= 0.5:
            raise ValueError("landslide_density is a fraction of the scene area in [0, 0.5]")
        if not 0 < self.min_landslide_area < self.max_landslide_area:
            raise ValueError("need 0 < min_landslide_area < max_landslide_area")

    @property
    def transform(self) -> Affine:
        return from_origin(self.origin[0], self.origin[1], self.pixel_size, self.pixel_size)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in CRS units."""
        x0, y0 = self.origin
        return (x0, y0 - self.height * self.pixel_size, x0 + self.width * self.pixel_size, y0)

    @property
    def area_km2(self) -> float:
        return self.height * self.width * self.pixel_size**2 / 1e6

    @property
    def n_roads(self) -> int:
        return self.roads if self.roads is not None else max(2, round(1.5 * self.area_km2))

    @property
    def n_houses(self) -> int:
        return self.houses if self.houses is not None else max(6, round(30 * self.area_km2))


@dataclass(frozen=True)
class SyntheticScene:
    image_path: Path
    mask_path: Path
    polygons_path: Path
    labelme_path: Path
    n_landslides: int
    landslide_fraction: float
    n_roads: int
    n_houses: int
    river: bool


# ----------------------------------------------------------------------------- noise


def _splitmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _key(seed: int, field: int) -> int:
    mixed = np.array([(seed * 0x9E3779B97F4A7C15 + field * 0xD1B54A32D192ED03) & _MASK64])
    return int(_splitmix(mixed.astype(np.uint64))[0])


def _hash_bits(ix: np.ndarray, iy: np.ndarray, key: int) -> np.ndarray:
    """64 well-mixed bits per integer lattice point (broadcasting ix against iy)."""
    h = ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h = h + iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    return _splitmix(h ^ np.uint64(key))


def _hash_uniform(ix: np.ndarray, iy: np.ndarray, key: int) -> np.ndarray:
    bits = _hash_bits(ix, iy, key) >> np.uint64(40)
    return bits.astype(np.float32) * np.float32(2.0**-24)


def _smooth(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    return _smooth(np.clip((x - e0) / (e1 - e0), 0.0, 1.0))


def _grid_noise(rows: np.ndarray, cols: np.ndarray, cell: float, key: int) -> np.ndarray:
    """Value noise in [0, 1) on the pixel grid ``rows x cols`` with lattice spacing ``cell``.

    Lattice values are hashed from absolute lattice indices, so the field is independent of
    the window; interpolation is separable (rows then columns), costing a few ops per pixel.
    """
    fy = (rows + 0.5) / cell
    fx = (cols + 0.5) / cell
    iy = np.floor(fy).astype(np.int64)
    ix = np.floor(fx).astype(np.int64)
    ty = _smooth(fy - iy).astype(np.float32)[:, None]
    tx = _smooth(fx - ix).astype(np.float32)
    lattice = _hash_uniform(
        np.arange(ix[0], ix[-1] + 2)[None, :], np.arange(iy[0], iy[-1] + 2)[:, None], key
    )
    jx = ix - ix[0]
    along_x = lattice[:, jx] * (1.0 - tx) + lattice[:, jx + 1] * tx
    jy = iy - iy[0]
    return along_x[jy] * (1.0 - ty) + along_x[jy + 1] * ty


def _fbm(rows: np.ndarray, cols: np.ndarray, cell: float, octaves: int, key: int) -> np.ndarray:
    total = np.zeros((rows.size, cols.size), dtype=np.float32)
    norm = 0.0
    for octave in range(octaves):
        amp = 0.5**octave
        total += amp * _grid_noise(rows, cols, cell / 2**octave, key + octave)
        norm += amp
    return total / np.float32(norm)


def _point_noise(x: np.ndarray, y: np.ndarray, key: int) -> np.ndarray:
    """Value noise in [0, 1) at arbitrary points (lattice spacing 1)."""
    ix = np.floor(x).astype(np.int64)
    iy = np.floor(y).astype(np.int64)
    tx = _smooth(x - ix).astype(np.float32)
    ty = _smooth(y - iy).astype(np.float32)
    top = _hash_uniform(ix, iy, key) * (1 - tx) + _hash_uniform(ix + 1, iy, key) * tx
    bottom = _hash_uniform(ix, iy + 1, key) * (1 - tx) + _hash_uniform(ix + 1, iy + 1, key) * tx
    return top * (1 - ty) + bottom * ty


def _gaussian_noise(rows: np.ndarray, cols: np.ndarray, key: int) -> np.ndarray:
    """Per-pixel, approximately standard normal noise (sum of three 21-bit uniforms)."""
    bits = _hash_bits(cols[None, :], rows[:, None], key)
    low = np.uint64((1 << 21) - 1)
    total = (
        (bits & low).astype(np.float32)
        + ((bits >> np.uint64(21)) & low).astype(np.float32)
        + ((bits >> np.uint64(42)) & low).astype(np.float32)
    )
    return (total * np.float32(2.0**-21) - 1.5) * np.float32(2.0)


# ----------------------------------------------------------------------------- relief


class _Relief:
    """Smooth synthetic terrain as a sum of plane waves, known through its exact gradient.

    Coordinates are metres relative to the scene origin (x east, y north).
    """

    def __init__(self, rng: np.random.Generator, rms_slope: float = 0.7, n: int = 16) -> None:
        wavelength = np.exp(rng.uniform(math.log(60.0), math.log(1500.0), n))
        angle = rng.uniform(0.0, 2 * math.pi, n)
        k = 2 * math.pi / wavelength
        self._kx = k * np.cos(angle)
        self._ky = k * np.sin(angle)
        self._phase = rng.uniform(0.0, 2 * math.pi, n)
        amp = wavelength**1.1
        self._amp = amp * rms_slope / np.sqrt(np.sum((amp * k) ** 2) / 2)

    def gradient(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        arg = np.multiply.outer(x, self._kx) + np.multiply.outer(y, self._ky) + self._phase
        c = np.cos(arg) * self._amp
        return (c * self._kx).sum(-1), (c * self._ky).sum(-1)

    def gradient_grid(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient on the grid ``y (rows) x x (cols)``: cos(a + b) split into two matmuls."""
        a = np.multiply.outer(x, self._kx) + self._phase
        b = np.multiply.outer(y, self._ky)
        rows = np.concatenate([np.cos(b), -np.sin(b)], axis=1)
        cos_a, sin_a = np.cos(a) * self._amp, np.sin(a) * self._amp
        gx = rows @ np.concatenate([cos_a * self._kx, sin_a * self._kx], axis=1).T
        gy = rows @ np.concatenate([cos_a * self._ky, sin_a * self._ky], axis=1).T
        return gx.astype(np.float32), gy.astype(np.float32)


def _illumination(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    lit = (-gx * _SUN[0] - gy * _SUN[1] + _SUN[2]) / np.sqrt(1.0 + gx * gx + gy * gy)
    return np.clip(lit, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------- geometry


class _GridIndex:
    """Coarse bucket index for geometries added one by one (an STRtree cannot grow)."""

    def __init__(self, cell: float) -> None:
        self._cell = cell
        self._buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.geoms: list[Polygon] = []

    def _keys(self, geom: Polygon) -> list[tuple[int, int]]:
        xmin, ymin, xmax, ymax = geom.bounds
        c = self._cell
        return [
            (i, j)
            for i in range(math.floor(xmin / c), math.floor(xmax / c) + 1)
            for j in range(math.floor(ymin / c), math.floor(ymax / c) + 1)
        ]

    def near(self, geom: Polygon) -> list[Polygon]:
        found = {i for k in self._keys(geom) for i in self._buckets.get(k, ())}
        return [self.geoms[i] for i in sorted(found)]

    def add(self, geom: Polygon) -> None:
        for k in self._keys(geom):
            self._buckets[k].append(len(self.geoms))
        self.geoms.append(geom)


def _polygons(geom: shapely.Geometry) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]


def _largest(geom: shapely.Geometry) -> Polygon | None:
    parts = _polygons(shapely.make_valid(geom))
    return max(parts, key=lambda p: p.area) if parts else None


def _band_runs(
    pts: np.ndarray, normal: np.ndarray, inner: np.ndarray, outer: np.ndarray, sel: np.ndarray
) -> list[Polygon]:
    """Polygons between two offset lines of a polyline, one per run of ``sel``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], sel.astype(np.int8), [0]])))
    out = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < 3:
            continue
        s = slice(start, stop)
        a = pts[s] + normal[s] * inner[s, None]
        b = pts[s] + normal[s] * outer[s, None]
        out.extend(p for p in _polygons(shapely.make_valid(Polygon(np.vstack([a, b[::-1]])))))
    return [p for p in out if p.area > 1.0]


def _noise_1d(rng: np.random.Generator, u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smooth random profile in about [0, 1] along a 1-d coordinate (wavelengths lo..hi)."""
    lam = rng.uniform(lo, hi, 3)
    phase = rng.uniform(0, 2 * math.pi, 3)
    waves = np.sin(2 * math.pi * u[:, None] / lam + phase).sum(axis=1)
    return 0.5 + waves / 6.0


@dataclass(frozen=True)
class _River:
    centreline: LineString
    water: Polygon
    deep: Polygon
    bars: list[Polygon]
    reach: float  # distance from the centreline beyond which banks are clear


def _make_river(spec: SceneSpec, rng: np.random.Generator) -> _River:
    xmin, ymin, xmax, ymax = spec.bounds
    centre = np.array(
        [xmin + (xmax - xmin) * rng.uniform(0.3, 0.7), ymin + (ymax - ymin) * rng.uniform(0.3, 0.7)]
    )
    theta = rng.uniform(0.0, math.pi)
    half = 0.5 * math.hypot(xmax - xmin, ymax - ymin) + 300.0
    step = 2.0
    u = np.arange(-half, half + step, step)
    lam = rng.uniform(500.0, 2000.0, 3)
    amp = rng.uniform(0.03, 0.08, 3) * lam
    phase = rng.uniform(0.0, 2 * math.pi, 3)
    lateral = (amp * np.sin(2 * math.pi * u[:, None] / lam + phase)).sum(axis=1)
    along = np.array([math.cos(theta), math.sin(theta)])
    across = np.array([-along[1], along[0]])
    pts = centre + u[:, None] * along + lateral[:, None] * across
    tangent = np.gradient(pts, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    dt = np.gradient(tangent, axis=0) / step
    curvature = tangent[:, 0] * dt[:, 1] - tangent[:, 1] * dt[:, 0]

    width = rng.uniform(15.0, 40.0)
    hw = 0.5 * width * (1.0 + 0.3 * (_noise_1d(rng, u, 150.0, 400.0) - 0.5))
    water = _largest(
        Polygon(np.vstack([pts + normal * hw[:, None], (pts - normal * hw[:, None])[::-1]]))
    )
    deep = _largest(water.buffer(-0.22 * width)) or Polygon()

    # Point bars on the inside of bends, plus alternate bars; narrow gravel strips on both banks.
    bend = np.abs(curvature) / max(np.abs(curvature).max(), 1e-9)
    bar_w = width * np.clip(0.8 * bend + 0.9 * (_noise_1d(rng, u, 120.0, 350.0) - 0.55), 0, 0.9)
    bars: list[Polygon] = []
    for side in (1.0, -1.0):
        inside = np.sign(curvature) == side
        sel = (bar_w > 1.0) & (inside | (_noise_1d(rng, u, 100.0, 300.0) > 0.6))
        ragged = 0.75 + 0.5 * _noise_1d(rng, u, 12.0, 40.0)
        outer = side * (hw + bar_w * ragged)
        bars += _band_runs(pts, normal, side * (hw - 0.3 * bar_w), outer, sel)
        strip = 5.0 * (_noise_1d(rng, u, 60.0, 200.0) - 0.35) * ragged
        bars += _band_runs(pts, normal, side * (hw - 1.0), side * (hw + strip), strip > 1.0)
    reach = float(hw.max() + 0.9 * width)
    return _River(LineString(pts), water, deep, bars, reach)


@dataclass(frozen=True)
class _Road:
    centreline: LineString
    surface: Polygon
    colour: tuple[float, float, float]


def _road_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    if rng.random() < 0.6:  # concrete
        v = rng.uniform(150.0, 180.0)
        return (v, v * 0.99, v * 0.95)
    v = rng.uniform(95.0, 120.0)  # asphalt
    return (v, v, v * 1.02)


def _contour_walk(
    spec: SceneSpec, relief: _Relief, rng: np.random.Generator, length: float
) -> LineString | None:
    """A road winding along the slopes: heading relaxes toward the local contour direction."""
    xmin, ymin, xmax, ymax = spec.bounds
    x0, y0 = spec.origin
    start = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
    heading0 = rng.uniform(0.0, 2 * math.pi)
    step, margin = 3.0, 30.0
    halves = []
    for flip in (0.0, math.pi):
        p, heading, pts = start.copy(), heading0 + flip, []
        grade = rng.normal(0.0, 0.15)
        for _ in range(int(0.5 * length / step)):
            gx, gy = relief.gradient(np.array(p[0] - x0), np.array(p[1] - y0))
            contour = math.atan2(float(gx), -float(gy))
            if math.cos(contour - heading) < 0:
                contour += math.pi
            target = contour + grade
            heading += 0.15 * math.remainder(target - heading, 2 * math.pi) + rng.normal(0, 0.05)
            p = p + step * np.array([math.cos(heading), math.sin(heading)])
            pts.append(p)
            if not (xmin - margin < p[0] < xmax + margin and ymin - margin < p[1] < ymax + margin):
                break
        halves.append(pts)
    pts = halves[1][::-1] + [start] + halves[0]
    return LineString(pts).simplify(0.3) if len(pts) > 3 else None


def _make_roads(
    spec: SceneSpec, relief: _Relief, river: _River | None, rng: np.random.Generator
) -> list[_Road]:
    xmin, ymin, xmax, ymax = spec.bounds
    scene = shapely.box(xmin, ymin, xmax, ymax)
    length = min(1500.0, 1.5 * math.hypot(xmax - xmin, ymax - ymin))
    roads: list[_Road] = []
    for i in range(spec.n_roads):
        line: shapely.Geometry | None
        if i == 0 and river is not None:  # the valley road along the river
            side = rng.choice([-1.0, 1.0])
            line = river.centreline.offset_curve(side * (river.reach + rng.uniform(8.0, 25.0)))
        else:
            line = _contour_walk(spec, relief, rng, length)
        if line is None or line.is_empty or not line.intersects(scene):
            continue
        width = rng.uniform(4.0, 7.0)
        surface = line.buffer(width / 2, cap_style="flat", join_style="round")
        if river is not None and i == 0:
            surface = surface.difference(river.water.buffer(2.0))
        for part in _polygons(surface):
            roads.append(_Road(line, part, _road_colour(rng)))
    return roads


_ROOF_COLOURS = np.array(
    [
        [228.0, 228.0, 222.0],  # white / light grey
        [168.0, 170.0, 172.0],  # grey
        [72.0, 112.0, 172.0],  # blue steel sheet
        [168.0, 74.0, 56.0],  # red tiles
    ]
)


@dataclass(frozen=True)
class _Houses:
    footprints: list[Polygon]
    roofs: list[Polygon]  # gable halves or whole flat roofs
    roof_colours: np.ndarray  # (len(roofs), 3)
    shadows: list[Polygon]
    clusters: list[np.ndarray]  # centres of house clusters that got at least one house


def _rectangle(cx: float, cy: float, length: float, width: float, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [length / 2, width / 2]
    return local @ np.array([[c, s], [-s, c]]) + [cx, cy]


def _make_houses(
    spec: SceneSpec, roads: list[_Road], river: _River | None, rng: np.random.Generator
) -> _Houses:
    xmin, ymin, xmax, ymax = spec.bounds
    scene = shapely.box(xmin, ymin, xmax, ymax)
    blockers = [r.surface.buffer(2.0) for r in roads]
    if river is not None:
        blockers += [g.buffer(3.0) for g in [river.water, *river.bars]]
    blocked = _chopped_tree(blockers)
    placed = _GridIndex(100.0)
    footprints: list[Polygon] = []
    roofs: list[Polygon] = []
    colours: list[np.ndarray] = []
    shadows: list[Polygon] = []
    clusters: list[np.ndarray] = []
    shadow_dir = np.array([-_SUN[0], -_SUN[1]]) / math.hypot(_SUN[0], _SUN[1])
    target = spec.n_houses
    for _ in range(30 * target + 100):
        if len(footprints) >= target:
            break
        if roads:
            road = roads[rng.integers(len(roads))]
            s = rng.uniform(0.0, road.centreline.length)
            a = np.array(road.centreline.interpolate(max(s - 2.0, 0.0)).coords[0])
            b = np.array(road.centreline.interpolate(s + 2.0).coords[0])
            along = (b - a) / max(np.linalg.norm(b - a), 1e-9)
            normal = np.array([-along[1], along[0]]) * rng.choice([-1.0, 1.0])
            centre = (a + b) / 2 + normal * rng.uniform(12.0, 40.0)
            angle = math.atan2(along[1], along[0])
        else:
            centre = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
            along = np.array([1.0, 0.0])
            angle = rng.uniform(0.0, math.pi)
        if not scene.contains(shapely.Point(centre)):
            continue
        n_before = len(footprints)
        for _ in range(int(rng.integers(2, 9))):
            if len(footprints) >= target:
                break
            offset = along * rng.normal(0.0, 16.0) + np.array([-along[1], along[0]]) * rng.normal(
                0.0, 7.0
            )
            length = rng.uniform(8.0, 20.0)
            width = rng.uniform(6.0, min(12.0, length))
            turn = angle + rng.choice([0.0, math.pi / 2]) + rng.normal(0.0, 0.06)
            corners = _rectangle(*(centre + offset), length, width, turn)
            house = Polygon(corners)
            if not house.intersects(scene) or blocked.query(house, predicate="intersects").size:
                continue
            if any(house.buffer(2.0).intersects(h) for h in placed.near(house)):
                continue
            placed.add(house)
            footprints.append(house)
            colour = _ROOF_COLOURS[rng.choice(4, p=[0.35, 0.25, 0.2, 0.2])]
            colour = colour * rng.uniform(0.88, 1.06)
            if rng.random() < 0.7:  # gable roof: two halves, one facing away from the sun
                mid = (corners + np.roll(corners, -1, axis=0)) / 2
                halves = [
                    Polygon([corners[0], corners[1], mid[1], mid[3]]),
                    Polygon([mid[3], mid[1], corners[2], corners[3]]),
                ]
                roofs += halves
                colours += [colour, colour * 0.8]
            else:
                roofs.append(house)
                colours.append(colour)
            cast = shadow_dir * rng.uniform(4.0, 9.0)
            hull = shapely.convex_hull(shapely.union(house, translate(house, *cast)))
            shadows += _polygons(hull.difference(house))
        if len(footprints) > n_before:
            clusters.append(centre)
    return _Houses(footprints, roofs, np.array(colours).reshape(-1, 3), shadows, clusters)


_FIELD_COLOURS = np.array(
    [
        [150.0, 128.0, 100.0],  # tilled bare soil
        [96.0, 116.0, 58.0],  # young crops
        [158.0, 150.0, 98.0],  # harvested wheat / rapeseed stubble
        [62.0, 92.0, 46.0],  # vegetables
    ]
)


@dataclass(frozen=True)
class _Fields:
    polygons: list[Polygon]
    colours: np.ndarray  # (n, 3)
    across: np.ndarray  # (n, 2) unit vector across the crop rows
    periods: np.ndarray  # (n,) crop row spacing, metres


def _make_fields(
    spec: SceneSpec,
    relief: _Relief,
    clusters: list[np.ndarray],
    blockers: list[Polygon],
    rng: np.random.Generator,
) -> _Fields:
    """Terraces around villages: strips along the contour, stacked downslope."""
    x0, y0 = spec.origin
    scene = shapely.box(*spec.bounds)
    blocked = _chopped_tree(blockers)
    placed = _GridIndex(100.0)
    colours, across, periods = [], [], []
    for centre in clusters:
        if rng.random() > 0.75:
            continue
        for _ in range(int(rng.integers(1, 4))):
            anchor = centre + rng.normal(0.0, 35.0, 2)
            gx, gy = relief.gradient(np.array(anchor[0] - x0), np.array(anchor[1] - y0))
            down = -np.array([float(gx), float(gy)]) / max(math.hypot(gx, gy), 1e-9)
            along = np.array([-down[1], down[0]])
            angle = math.atan2(along[1], along[0])
            width, gap = rng.uniform(4.0, 9.0), rng.uniform(0.6, 1.5)
            for i in range(int(rng.integers(3, 8))):
                length = rng.uniform(20.0, 60.0)
                strip = anchor + down * i * (width + gap) + along * rng.normal(0.0, 5.0)
                edges = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, rng.integers(0, 3))), [1]])
                for a, b in zip(edges[:-1], edges[1:], strict=True):
                    if (b - a) * length < 6.0:
                        continue
                    c = strip + along * ((a + b) / 2 - 0.5) * length
                    field = Polygon(_rectangle(*c, (b - a) * length - 0.8, width, angle))
                    if not field.intersects(scene):
                        continue
                    if blocked.query(field, predicate="intersects").size:
                        continue
                    if any(field.intersects(f) for f in placed.near(field)):
                        continue
                    placed.add(field)
                    colour = _FIELD_COLOURS[rng.choice(4, p=[0.3, 0.35, 0.2, 0.15])]
                    colours.append(colour * rng.uniform(0.9, 1.08))
                    across.append(down)
                    periods.append(rng.uniform(0.8, 1.6))
    return _Fields(
        placed.geoms,
        np.array(colours).reshape(-1, 3),
        np.array(across).reshape(-1, 2),
        np.array(periods),
    )


def _slide_outline(rng: np.random.Generator, area: float) -> np.ndarray:
    """Outline of one scar in a local frame: x downslope from the head scarp, y across.

    Three families: compact slumps, elongated tongues tapering downslope, and long narrow
    debris flows with a wide source area and a toe fan. Scaled to ``area`` exactly.
    """
    n = 96
    tau = (np.arange(n) + 0.5) / n
    r = rng.random()
    if area > 1500.0 and r < 0.25:
        aspect = rng.uniform(4.0, 9.0)
        fan = rng.uniform(0.0, 0.8)
        hw = np.sin(math.pi * tau) ** 0.25 * (
            0.3
            + 0.9 * np.exp(-(((tau - 0.12) / 0.1) ** 2))
            + fan * np.exp(-(((tau - 0.92) / 0.07) ** 2))
        )
        bend = 0.04 * aspect
    elif r < 0.75:
        aspect = rng.uniform(1.8, 5.0)
        hw = np.sin(math.pi * tau ** rng.uniform(0.5, 0.8)) ** 0.7
        if rng.random() < 0.3:
            hw = hw + 0.4 * np.exp(-(((tau - 0.9) / 0.08) ** 2))
        bend = 0.15 * aspect
    else:
        aspect = rng.uniform(1.0, 2.0)
        p = rng.uniform(1.8, 3.0)
        hw = (1.0 - np.abs(2 * tau - 1) ** p) ** (1 / p) * (1.15 - 0.3 * tau)
        bend = 0.1
    m = np.arange(1, 17)

    def wobble() -> np.ndarray:
        coef = rng.normal(0.0, 0.16, m.size) / m**0.8
        phase = rng.uniform(0.0, 2 * math.pi, m.size)
        waves = (coef * np.sin(math.pi * np.outer(tau, m) + phase)).sum(axis=1)
        return np.clip(1.0 + waves, 0.3, None) * rng.normal(1.0, 0.015, n)

    centre = bend * np.sin(math.pi * tau * rng.uniform(0.5, 1.5) + rng.uniform(0, 2 * math.pi))
    x = tau * aspect
    left = np.stack([x, centre + 0.5 * hw * wobble()], axis=1)
    right = np.stack([x, centre - 0.5 * hw * wobble()], axis=1)
    ring = np.vstack([[0.0, centre[0]], left, [aspect, centre[-1]], right[::-1]])
    xs, ys = ring[:, 0], ring[:, 1]
    ring_area = 0.5 * abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))
    return ring * math.sqrt(area / ring_area)


@dataclass(frozen=True)
class _Slides:
    polygons: list[Polygon]  # individual scars, possibly overlapping
    colours: np.ndarray  # (n, 3)
    heads: np.ndarray  # (n, 2) head scarp position, metres from the origin
    axes: np.ndarray  # (n, 2) unit downslope direction
    lengths: np.ndarray  # (n,)


def _soil_colour(rng: np.random.Generator) -> np.ndarray:
    kind = rng.choice(3, p=[0.45, 0.3, 0.25])
    if kind == 0:  # tan
        red, g, b = rng.uniform(165, 200), rng.uniform(0.88, 0.93), rng.uniform(0.70, 0.80)
    elif kind == 1:  # light brown
        red, g, b = rng.uniform(145, 180), rng.uniform(0.84, 0.90), rng.uniform(0.66, 0.75)
    else:  # greyish brown
        red, g, b = rng.uniform(150, 185), rng.uniform(0.93, 0.97), rng.uniform(0.84, 0.90)
    return np.array([red, red * g, red * b])


def _place_landslides(
    spec: SceneSpec, relief: _Relief, obstacles: STRtree, rng: np.random.Generator
) -> _Slides:
    xmin, ymin, xmax, ymax = spec.bounds
    x0, y0 = spec.origin
    scene = shapely.box(xmin, ymin, xmax, ymax)
    scene_area = scene.area
    a_min = spec.min_landslide_area
    a_max = max(min(spec.max_landslide_area, 0.03 * scene_area), 4 * a_min)
    log_lo, log_hi = math.log(a_min), math.log(a_max)
    target = spec.landslide_density * scene_area
    mean_area = (a_max - a_min) / (log_hi - log_lo)
    index = _GridIndex(150.0)
    polygons, colours, heads, axes, lengths = [], [], [], [], []
    covered = 0.0
    for _ in range(int(300 + 60 * target / mean_area)):
        if covered >= target:
            break
        area = math.exp(rng.uniform(log_lo, log_hi))
        c = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
        gx, gy = relief.gradient(np.array(c[0] - x0), np.array(c[1] - y0))
        slope = math.hypot(float(gx), float(gy))
        if rng.random() > min(max(slope / 0.9, 0.15), 1.0):  # landslides favour steep slopes
            continue
        down = -np.array([float(gx), float(gy)]) / max(slope, 1e-9)
        local = _slide_outline(rng, area)
        local = local - local.mean(axis=0)
        rot = np.array([[down[0], down[1]], [-down[1], down[0]]])
        poly = _largest(Polygon(local @ rot + c).intersection(scene))
        if poly is None or poly.area < 0.5 * a_min:
            continue
        if obstacles.query(poly, predicate="intersects").size:
            continue
        overlap = sum(poly.intersection(o).area for o in index.near(poly) if poly.intersects(o))
        if overlap > 0.05 * poly.area:
            continue
        index.add(poly)
        covered += poly.area - overlap
        polygons.append(poly)
        colours.append(_soil_colour(rng))
        head_local = np.array([local[:, 0].min(), 0.0])
        heads.append(head_local @ rot + c - [x0, y0])
        axes.append(down)
        lengths.append(np.ptp(local[:, 0]))
    return _Slides(
        polygons,
        np.array(colours).reshape(-1, 3),
        np.array(heads).reshape(-1, 2),
        np.array(axes).reshape(-1, 2),
        np.array(lengths),
    )


def _merge(polygons: list[Polygon]) -> list[Polygon]:
    """Union touching scars and fill holes (Labelme polygons have none); sorted top-left.

    Only groups of intersecting scars are unioned: one union over thousands of scars is slow.
    Repeats until stable, since a filled hole may swallow another scar.
    """
    parts = list(polygons)
    while len(parts) > 1:
        geoms = np.array(parts, dtype=object)
        left, right = STRtree(geoms).query(geoms, predicate="intersects")
        if (left == right).all():
            break
        graph = coo_matrix((np.ones(left.size), (left, right)), shape=(len(parts), len(parts)))
        _, labels = connected_components(graph, directed=False)
        parts = [
            Polygon(p.exterior)
            for label in np.unique(labels)
            for p in _polygons(shapely.union_all(geoms[labels == label]))
        ]
    return sorted(parts, key=lambda p: (-p.bounds[3], p.bounds[0]))


def _chopped_tree(geoms: list[Polygon], cell: float = 200.0) -> STRtree:
    """STRtree over the geometries cut into ``cell`` squares.

    Long rivers and roads would otherwise match every nearby query by bounding box and make
    each exact intersection test walk thousands of vertices.
    """
    pieces = []
    for geom in geoms:
        xmin, ymin, xmax, ymax = geom.bounds
        if max(xmax - xmin, ymax - ymin) <= cell:
            pieces.append(geom)
            continue
        xs = np.arange(math.floor(xmin / cell), math.floor(xmax / cell) + 1) * cell
        ys = np.arange(math.floor(ymin / cell), math.floor(ymax / cell) + 1) * cell
        gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
        shapely.prepare(geom)
        hit = shapely.intersects(geom, shapely.box(gx, gy, gx + cell, gy + cell))
        for x, y in zip(gx[hit], gy[hit], strict=True):
            piece = shapely.clip_by_rect(geom, x, y, x + cell, y + cell)
            if not piece.is_empty:
                pieces.append(piece)
    return STRtree(pieces)


# ----------------------------------------------------------------------------- layout


class _Layer:
    """Geometries with integer burn values, queried per window through an STRtree."""

    def __init__(self, geoms: list[Polygon], values: np.ndarray | None = None, clip: bool = False):
        self._geoms = np.array(geoms, dtype=object)
        self._values = np.arange(1, len(geoms) + 1) if values is None else np.asarray(values)
        self._tree = STRtree(self._geoms)
        self._clip = clip

    def burn(self, box: Polygon, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
        """Values of the geometries covering each pixel centre (0: none; later ones on top)."""
        idx = np.sort(self._tree.query(box))
        if idx.size == 0:
            return np.zeros(shape, dtype=np.int32)
        geoms, values = self._geoms[idx], self._values[idx]
        if self._clip:  # long rivers and roads: rasterize only the part in the window
            geoms = shapely.clip_by_rect(geoms, *box.bounds)
            keep = ~shapely.is_empty(geoms)
            geoms, values = geoms[keep], values[keep]
            if not keep.any():
                return np.zeros(shape, dtype=np.int32)
        return rasterize(
            zip(geoms, values.tolist(), strict=True),
            out_shape=shape,
            transform=transform,
            fill=0,
            dtype="int32",
        )


class SceneLayout:
    """All vectors of a scene, ready for windowed rendering.

    Public attributes (CRS coordinates): ``landslides`` (truth: unioned, hole-free polygons),
    ``river`` (water polygon or None), ``gravel_bars``, ``roads`` (road surfaces), ``houses``
    (footprints) and ``fields`` (terraced farmland).
    """

    def __init__(self, spec: SceneSpec) -> None:
        self.spec = spec
        rng = [np.random.default_rng([spec.seed, i]) for i in range(6)]
        self._relief = _Relief(rng[0])
        river = _make_river(spec, rng[1]) if spec.river else None
        roads = _make_roads(spec, self._relief, river, rng[2])
        houses = _make_houses(spec, roads, river, rng[3])
        obstacles = [r.surface for r in roads] + houses.footprints
        if river is not None:
            obstacles += [river.water, *river.bars]
        fields = _Fields([], np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0))
        if spec.farmland:
            blockers = [g.buffer(2.0) for g in obstacles]
            fields = _make_fields(spec, self._relief, houses.clusters, blockers, rng[5])
        obstacles += fields.polygons
        obstacle_tree = _chopped_tree([g.buffer(10.0) for g in obstacles])
        slides = _place_landslides(spec, self._relief, obstacle_tree, rng[4])
        self.landslides = _merge(slides.polygons)
        self.river = river.water if river is not None else None
        self.gravel_bars = river.bars if river is not None else []
        self.roads = [r.surface for r in roads]
        self.houses = houses.footprints
        self.fields = fields.polygons

        self._slides = slides
        self._truth = _Layer(self.landslides)
        # Scar pixels get the attributes of a scar covering them; filled holes those of the
        # first scar touching the merged polygon.
        slide_tree = STRtree(slides.polygons)
        reps = [int(slide_tree.query(p, predicate="intersects").min()) + 1 for p in self.landslides]
        self._scars = _Layer(
            self.landslides + slides.polygons,
            np.concatenate([reps, np.arange(1, len(slides.polygons) + 1)]).astype(np.int64),
        )
        self._water = _Layer([river.water, river.deep] if river else [], clip=True)
        self._bars = _Layer(self.gravel_bars, clip=True)
        self._roads = _Layer(self.roads, clip=True)
        self._road_colours = np.array([r.colour for r in roads]).reshape(-1, 3)
        self._shadows = _Layer(houses.shadows)
        self._roofs = _Layer(houses.roofs)
        self._roof_colours = houses.roof_colours
        self._fields = fields
        self._field_layer = _Layer(fields.polygons)

    def render(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`render_window`."""
        spec = self.spec
        keys = {f: _key(spec.seed, f) for f in range(_F_NOISE + 3)}
        padded = Window(
            window.col_off - _PAD,
            window.row_off - _PAD,
            window.width + 2 * _PAD,
            window.height + 2 * _PAD,
        )
        shape = (int(padded.height), int(padded.width))
        rows = np.arange(padded.row_off, padded.row_off + shape[0])
        cols = np.arange(padded.col_off, padded.col_off + shape[1])
        tr = window_transform(padded, spec.transform)
        box = shapely.box(*window_bounds(padded, spec.transform))
        ps = spec.pixel_size
        x = (cols + 0.5) * ps  # metres east of the origin
        y = -(rows + 0.5) * ps  # metres north of the origin (negative in the scene)
        gx, gy = self._relief.gradient_grid(x, y)
        lit = _illumination(gx, gy)

        rgb = self._vegetation(rows, cols, lit, keys)
        self._paint_fields(rgb, rows, cols, x, y, lit, keys, box, tr)
        self._paint_scars(rgb, rows, cols, x, y, lit, keys, box, tr)
        self._paint_river(rgb, rows, cols, keys, box, tr)
        self._paint_table(
            rgb,
            rows,
            cols,
            self._roads.burn(box, tr, shape),
            self._road_colours,
            0.05,
            0.7 / ps,
            keys[_F_ROAD],
        )
        shadow = self._shadows.burn(box, tr, shape) > 0
        rgb[:, shadow] *= 0.42
        self._paint_table(
            rgb,
            rows,
            cols,
            self._roofs.burn(box, tr, shape),
            self._roof_colours,
            0.04,
            1.5 / ps,
            keys[_F_ROOF],
        )

        rgb = gaussian_filter(rgb, sigma=(0, _BLUR_SIGMA, _BLUR_SIGMA), truncate=_PAD / _BLUR_SIGMA)
        inner = (slice(None), slice(_PAD, -_PAD), slice(_PAD, -_PAD))
        rgb = rgb[inner]
        rows, cols = rows[_PAD:-_PAD], cols[_PAD:-_PAD]
        for band in range(3):
            rgb[band] += _HAZE[band] + _SENSOR_NOISE * _gaussian_noise(
                rows, cols, keys[_F_NOISE + band]
            )
        image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        wtr = window_transform(window, spec.transform)
        wbox = shapely.box(*window_bounds(window, spec.transform))
        mask = (self._truth.burn(wbox, wtr, image.shape[1:]) > 0).astype(np.uint8)
        return image, mask

    def _vegetation(
        self, rows: np.ndarray, cols: np.ndarray, lit: np.ndarray, keys: dict[int, int]
    ) -> np.ndarray:
        px = 1.0 / self.spec.pixel_size  # pixels per metre
        kind = _smoothstep(0.38, 0.62, _fbm(rows, cols, 90.0 * px, 3, keys[_F_VEG]))
        tone = _fbm(rows, cols, 20.0 * px, 2, keys[_F_TONE]) - 0.5
        crowns = _fbm(rows, cols, 3.0 * px, 2, keys[_F_CROWN])
        # Crowns as a height field lit from the sun side: compare with a sunward neighbour.
        sunward = _fbm(rows - 1.5, cols - 1.5, 3.0 * px, 2, keys[_F_CROWN])
        shadow = _smoothstep(0.6, 0.75, _fbm(rows, cols, 35.0 * px, 3, keys[_F_SHADOW]))
        # Dry-valley slopes: pale sparse grass dotted with dark shrubs.
        dry = _smoothstep(0.56, 0.68, _fbm(rows, cols, 110.0 * px, 3, keys[_F_DRY]))
        canopy = (1.0 - 0.75 * kind) * (1.0 - dry)
        shrubs = 0.45 * dry * _smoothstep(0.5, 0.65, crowns)
        texture = 1.0 + 0.4 * tone + canopy * (0.8 * (crowns - 0.5) + 2.5 * (crowns - sunward))
        factor = texture * (0.15 + 1.1 * lit) * (1.0 - 0.35 * shadow) * (1.0 - shrubs)
        base = _FOREST[:, None, None] * (1.0 - kind) + _SHRUB[:, None, None] * kind
        base = base * (1.0 - dry) + _DRY[:, None, None] * dry
        return (base * factor).astype(np.float32)

    def _paint_fields(
        self,
        rgb: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        lit: np.ndarray,
        keys: dict[int, int],
        box: Polygon,
        tr: Affine,
    ) -> None:
        labels = self._field_layer.burn(box, tr, lit.shape)
        rr, cc = np.nonzero(labels)
        if rr.size == 0:
            return
        f = self._fields
        ids = labels[rr, cc] - 1
        phase = (x[cc] * f.across[ids, 0] + y[rr] * f.across[ids, 1]) / f.periods[ids]
        grain = _grid_noise(rows, cols, 1.5, keys[_F_FIELD])[rr, cc]
        factor = (1.0 + 0.1 * np.sin(2 * math.pi * phase) + 0.2 * (grain - 0.5)) * (
            0.45 + 0.6 * lit[rr, cc]
        )
        rgb[:, rr, cc] = (f.colours[ids] * factor[:, None]).T.astype(np.float32)

    def _paint_scars(
        self,
        rgb: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        lit: np.ndarray,
        keys: dict[int, int],
        box: Polygon,
        tr: Affine,
    ) -> None:
        labels = self._scars.burn(box, tr, lit.shape)
        rr, cc = np.nonzero(labels)
        if rr.size == 0:
            return
        s = self._slides
        ids = labels[rr, cc] - 1
        dx = x[cc] - s.heads[ids, 0]
        dy = y[rr] - s.heads[ids, 1]
        ax, ay = s.axes[ids, 0], s.axes[ids, 1]
        u = dx * ax + dy * ay  # metres downslope from the head scarp
        v = dy * ax - dx * ay
        t = np.clip(u / s.lengths[ids], 0.0, 1.0)
        px = 1.0 / self.spec.pixel_size
        streak = _point_noise(u / 7.0, v / 1.1, keys[_F_STREAK])
        fine = _grid_noise(rows, cols, 1.3, keys[_F_SOIL])[rr, cc]
        patch = _fbm(rows, cols, 6.0 * px, 2, keys[_F_PATCH])[rr, cc]
        f = (
            1.0
            + 0.16 * (1.0 - _smoothstep(0.0, 0.15, t))  # fresh, bright head scarp
            - 0.16 * t  # darker, moister debris toward the toe
            + 0.25 * (streak - 0.5)
            + 0.35 * (fine - 0.5)
            + 0.35 * (patch - 0.5)
        )
        f = f * (0.5 + 0.6 * lit[rr, cc])
        rgb[:, rr, cc] = (s.colours[ids] * f[:, None]).T.astype(np.float32)

    def _paint_river(
        self,
        rgb: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        keys: dict[int, int],
        box: Polygon,
        tr: Affine,
    ) -> None:
        shape = rgb.shape[1:]
        water = self._water.burn(box, tr, shape)
        bars = self._bars.burn(box, tr, shape) > 0
        if not (water.any() or bars.any()):
            return
        px = 1.0 / self.spec.pixel_size
        if water.any():
            ripple = _fbm(rows, cols, 3.0 * px, 2, keys[_F_WATER])
            turbid = _fbm(rows, cols, 40.0 * px, 2, keys[_F_WATER] + 7)
            for value, colour in ((1, _WATER_SHALLOW), (2, _WATER_DEEP)):
                m = water == value
                f = 0.92 + 0.1 * ripple[m] + 0.12 * (turbid[m] - 0.5)
                rgb[:, m] = colour[:, None] * f
        if bars.any():
            pebbles = _grid_noise(rows, cols, 1.2, keys[_F_GRAVEL])[bars]
            damp = _fbm(rows, cols, 8.0 * px, 3, keys[_F_DAMP])[bars]
            v = 182.0 * (0.78 + 0.4 * pebbles + 0.5 * (damp - 0.5))
            gravel = np.stack([v, v * 0.99, v * 0.965])
            # sparse grass on the older, higher parts of the bars
            grass = _smoothstep(0.6, 0.72, damp) * 0.7
            rgb[:, bars] = gravel * (1 - grass) + _SHRUB[:, None] * (0.6 + 0.8 * pebbles) * grass

    @staticmethod
    def _paint_table(
        rgb: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        labels: np.ndarray,
        table: np.ndarray,
        amount: float,
        cell: float,
        key: int,
    ) -> None:
        m = labels > 0
        if m.any():
            grain = _grid_noise(rows, cols, cell, key)[m]
            rgb[:, m] = (table[labels[m] - 1] * (1.0 + amount * 2 * (grain - 0.5))[:, None]).T


def build_layout(spec: SceneSpec) -> SceneLayout:
    """All vectors of a scene (deterministic for ``spec``)."""
    return SceneLayout(spec)


def landslide_polygons(spec: SceneSpec) -> list[Polygon]:
    """The scene's truth polygons in CRS coordinates: unioned, hole-free, inside the scene."""
    return build_layout(spec).landslides


def render_window(layout: SceneLayout, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """RGB ``(3, h, w)`` uint8 and truth mask ``(h, w)`` uint8 of one window of the scene.

    A pixel's value does not depend on the window, so any tiling gives the same scene.
    """
    return layout.render(window)


# ----------------------------------------------------------------------------- writers


def _windows(spec: SceneSpec, block: int) -> list[Window]:
    return [
        Window(c, r, min(block, spec.width - c), min(block, spec.height - r))
        for r in range(0, spec.height, block)
        for c in range(0, spec.width, block)
    ]


def _write_gpkg(path: Path, polygons: list[Polygon], crs: str) -> None:
    path.unlink(missing_ok=True)
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(np.array(polygons, dtype=object)),
        field_data=[
            np.arange(1, len(polygons) + 1, dtype=np.int32),
            np.array([p.area for p in polygons], dtype=np.float64),
        ],
        fields=["id", "area_m2"],
        layer="landslides",
        driver="GPKG",
        geometry_type="Polygon",
        crs=crs,
    )


def _write_labelme(path: Path, image_name: str, polygons: list[Polygon], spec: SceneSpec) -> None:
    x0, y0 = spec.origin
    shapes = []
    for p in polygons:
        xy = np.asarray(p.exterior.coords)[:-1]
        points = np.stack([(xy[:, 0] - x0), (y0 - xy[:, 1])], axis=1) / spec.pixel_size
        shapes.append(
            {
                "label": "landslide",
                "points": np.round(points, 3).tolist(),
                "group_id": None,
                "shape_type": "polygon",
                "flags": {},
            }
        )
    doc = {
        "version": "5.2.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": spec.height,
        "imageWidth": spec.width,
    }
    path.write_text(json.dumps(doc))


def make_scene(
    out_dir: Path, name: str, spec: SceneSpec | None = None, *, block_size: int = 512
) -> SyntheticScene:
    """Write ``<name>.tif``, ``<name>_mask.tif``, ``<name>_landslides.gpkg``, ``<name>.json``.

    The raster is rendered and written in ``block_size`` windows (keep it a multiple of the
    256 px GeoTIFF tile), so memory is bounded for any scene size.
    """
    spec = spec or SceneSpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = build_layout(spec)
    image_path = out_dir / f"{name}.tif"
    mask_path = out_dir / f"{name}_mask.tif"
    profile = {
        "driver": "GTiff",
        "height": spec.height,
        "width": spec.width,
        "crs": spec.crs,
        "transform": spec.transform,
        "dtype": "uint8",
        "nodata": None,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    positives = 0
    with (
        rasterio.open(image_path, "w", count=3, photometric="RGB", **profile) as img,
        rasterio.open(mask_path, "w", count=1, **profile) as msk,
    ):
        for window in _windows(spec, block_size):
            rgb, mask = layout.render(window)
            img.write(rgb, window=window)
            msk.write(mask, 1, window=window)
            positives += int(mask.sum())
    polygons_path = out_dir / f"{name}_landslides.gpkg"
    _write_gpkg(polygons_path, layout.landslides, spec.crs)
    labelme_path = out_dir / f"{name}.json"
    _write_labelme(labelme_path, image_path.name, layout.landslides, spec)
    return SyntheticScene(
        image_path=image_path,
        mask_path=mask_path,
        polygons_path=polygons_path,
        labelme_path=labelme_path,
        n_landslides=len(layout.landslides),
        landslide_fraction=positives / (spec.height * spec.width),
        n_roads=len(layout.roads),
        n_houses=len(layout.houses),
        river=layout.river is not None,
    )
