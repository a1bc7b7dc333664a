"""The confusers around the landslides: a river with gravel bars, roads, houses, fields."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import LineString, Polygon
from shapely.affinity import translate

from quakeslide.synthetic.geometry import (
    GridIndex,
    band_runs,
    chopped_tree,
    largest_part,
    noise_1d,
    polygon_parts,
)
from quakeslide.synthetic.spec import SceneSpec
from quakeslide.synthetic.terrain import SUN, Relief


@dataclass(frozen=True)
class River:
    centreline: LineString
    water: Polygon
    deep: Polygon
    bars: list[Polygon]
    reach: float  # distance from the centreline beyond which banks are clear


def make_river(spec: SceneSpec, rng: np.random.Generator) -> River:
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
    hw = 0.5 * width * (1.0 + 0.3 * (noise_1d(rng, u, 150.0, 400.0) - 0.5))
    water = largest_part(
        Polygon(np.vstack([pts + normal * hw[:, None], (pts - normal * hw[:, None])[::-1]]))
    )
    deep = largest_part(water.buffer(-0.22 * width)) or Polygon()

    # Point bars on the inside of bends, plus alternate bars; narrow gravel strips on both banks.
    bend = np.abs(curvature) / max(np.abs(curvature).max(), 1e-9)
    bar_w = width * np.clip(0.8 * bend + 0.9 * (noise_1d(rng, u, 120.0, 350.0) - 0.55), 0, 0.9)
    bars: list[Polygon] = []
    for side in (1.0, -1.0):
        inside = np.sign(curvature) == side
        sel = (bar_w > 1.0) & (inside | (noise_1d(rng, u, 100.0, 300.0) > 0.6))
        ragged = 0.75 + 0.5 * noise_1d(rng, u, 12.0, 40.0)
        outer = side * (hw + bar_w * ragged)
        bars += band_runs(pts, normal, side * (hw - 0.3 * bar_w), outer, sel)
        strip = 5.0 * (noise_1d(rng, u, 60.0, 200.0) - 0.35) * ragged
        bars += band_runs(pts, normal, side * (hw - 1.0), side * (hw + strip), strip > 1.0)
    reach = float(hw.max() + 0.9 * width)
    return River(LineString(pts), water, deep, bars, reach)


@dataclass(frozen=True)
class Road:
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
    spec: SceneSpec, relief: Relief, rng: np.random.Generator, length: float
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


def make_roads(
    spec: SceneSpec, relief: Relief, river: River | None, rng: np.random.Generator
) -> list[Road]:
    xmin, ymin, xmax, ymax = spec.bounds
    scene = shapely.box(xmin, ymin, xmax, ymax)
    length = min(1500.0, 1.5 * math.hypot(xmax - xmin, ymax - ymin))
    roads: list[Road] = []
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
        for part in polygon_parts(surface):
            roads.append(Road(line, part, _road_colour(rng)))
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
class Houses:
    footprints: list[Polygon]
    roofs: list[Polygon]  # gable halves or whole flat roofs
    roof_colours: np.ndarray  # (len(roofs), 3)
    shadows: list[Polygon]
    clusters: list[np.ndarray]  # centres of house clusters that got at least one house


def _rectangle(cx: float, cy: float, length: float, width: float, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [length / 2, width / 2]
    return local @ np.array([[c, s], [-s, c]]) + [cx, cy]


def make_houses(
    spec: SceneSpec, roads: list[Road], river: River | None, rng: np.random.Generator
) -> Houses:
    xmin, ymin, xmax, ymax = spec.bounds
    scene = shapely.box(xmin, ymin, xmax, ymax)
    blockers = [r.surface.buffer(2.0) for r in roads]
    if river is not None:
        blockers += [g.buffer(3.0) for g in [river.water, *river.bars]]
    blocked = chopped_tree(blockers)
    placed = GridIndex(100.0)
    footprints: list[Polygon] = []
    roofs: list[Polygon] = []
    colours: list[np.ndarray] = []
    shadows: list[Polygon] = []
    clusters: list[np.ndarray] = []
    shadow_dir = np.array([-SUN[0], -SUN[1]]) / math.hypot(SUN[0], SUN[1])
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
            shadows += polygon_parts(hull.difference(house))
        if len(footprints) > n_before:
            clusters.append(centre)
    return Houses(footprints, roofs, np.array(colours).reshape(-1, 3), shadows, clusters)


_FIELD_COLOURS = np.array(
    [
        [150.0, 128.0, 100.0],  # tilled bare soil
        [96.0, 116.0, 58.0],  # young crops
        [158.0, 150.0, 98.0],  # harvested wheat / rapeseed stubble
        [62.0, 92.0, 46.0],  # vegetables
    ]
)


@dataclass(frozen=True)
class Fields:
    polygons: list[Polygon]
    colours: np.ndarray  # (n, 3)
    across: np.ndarray  # (n, 2) unit vector across the crop rows
    periods: np.ndarray  # (n,) crop row spacing, metres


def make_fields(
    spec: SceneSpec,
    relief: Relief,
    clusters: list[np.ndarray],
    blockers: list[Polygon],
    rng: np.random.Generator,
) -> Fields:
    """Terraces around villages: strips along the contour, stacked downslope."""
    x0, y0 = spec.origin
    scene = shapely.box(*spec.bounds)
    blocked = chopped_tree(blockers)
    placed = GridIndex(100.0)
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
    return Fields(
        placed.geoms,
        np.array(colours).reshape(-1, 3),
        np.array(across).reshape(-1, 2),
        np.array(periods),
    )
