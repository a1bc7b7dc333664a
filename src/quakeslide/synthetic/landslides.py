"""Landslide scars: outlines of three families, soil colours, placement on steep slopes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import Polygon, STRtree

from quakeslide.synthetic.geometry import GridIndex, largest_part
from quakeslide.synthetic.spec import SceneSpec
from quakeslide.synthetic.terrain import Relief


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
class Slides:
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


def place_landslides(
    spec: SceneSpec, relief: Relief, obstacles: STRtree, rng: np.random.Generator
) -> Slides:
    xmin, ymin, xmax, ymax = spec.bounds
    x0, y0 = spec.origin
    scene = shapely.box(xmin, ymin, xmax, ymax)
    scene_area = scene.area
    a_min = spec.min_landslide_area
    a_max = max(min(spec.max_landslide_area, 0.03 * scene_area), 4 * a_min)
    log_lo, log_hi = math.log(a_min), math.log(a_max)
    target = spec.landslide_density * scene_area
    mean_area = (a_max - a_min) / (log_hi - log_lo)
    index = GridIndex(150.0)
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
        poly = largest_part(Polygon(local @ rot + c).intersection(scene))
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
    return Slides(
        polygons,
        np.array(colours).reshape(-1, 3),
        np.array(heads).reshape(-1, 2),
        np.array(axes).reshape(-1, 2),
        np.array(lengths),
    )
