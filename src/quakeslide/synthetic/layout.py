"""All vectors of a scene, built once from its spec, with the layers rendering burns per window."""

from __future__ import annotations

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from shapely import Polygon, STRtree

from quakeslide.synthetic.features import Fields, make_fields, make_houses, make_river, make_roads
from quakeslide.synthetic.geometry import chopped_tree, merge_touching, one_polygon_per_scar
from quakeslide.synthetic.landslides import place_landslides
from quakeslide.synthetic.spec import SceneSpec
from quakeslide.synthetic.terrain import Relief


class BurnLayer:
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
    ``inventory`` (the same ground, one polygon per scar: touching scars kept apart),
    ``river`` (water polygon or None), ``gravel_bars``, ``roads`` (road surfaces), ``houses``
    (footprints) and ``fields`` (terraced farmland). The ``*_layer`` attributes, the relief,
    the scars and the colour tables are what `render_window` paints from.
    """

    def __init__(self, spec: SceneSpec) -> None:
        self.spec = spec
        rng = [np.random.default_rng([spec.seed, i]) for i in range(6)]
        self.relief = Relief(rng[0])
        river = make_river(spec, rng[1]) if spec.river else None
        roads = make_roads(spec, self.relief, river, rng[2])
        houses = make_houses(spec, roads, river, rng[3])
        obstacles = [r.surface for r in roads] + houses.footprints
        if river is not None:
            obstacles += [river.water, *river.bars]
        fields = Fields([], np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0))
        if spec.farmland:
            blockers = [g.buffer(2.0) for g in obstacles]
            fields = make_fields(spec, self.relief, houses.clusters, blockers, rng[5])
        obstacles += fields.polygons
        obstacle_tree = chopped_tree([g.buffer(10.0) for g in obstacles])
        slides = place_landslides(spec, self.relief, obstacle_tree, rng[4])
        self.landslides = merge_touching(slides.polygons)
        self.river = river.water if river is not None else None
        self.gravel_bars = river.bars if river is not None else []
        self.roads = [r.surface for r in roads]
        self.houses = houses.footprints
        self.fields = fields.polygons

        self.slides = slides
        self.truth_layer = BurnLayer(self.landslides)
        # Scar pixels get the attributes of a scar covering them; filled holes those of the
        # first scar touching the merged polygon.
        slide_tree = STRtree(slides.polygons)
        firsts = [int(slide_tree.query(p, predicate="intersects").min()) for p in self.landslides]
        self.scar_layer = BurnLayer(
            self.landslides + slides.polygons,
            np.concatenate([firsts, np.arange(len(slides.polygons))]).astype(np.int64) + 1,
        )
        self.inventory = one_polygon_per_scar(slides.polygons, self.landslides, firsts)
        self.water_layer = BurnLayer([river.water, river.deep] if river else [], clip=True)
        self.bar_layer = BurnLayer(self.gravel_bars, clip=True)
        self.road_layer = BurnLayer(self.roads, clip=True)
        self.road_colours = np.array([r.colour for r in roads]).reshape(-1, 3)
        self.shadow_layer = BurnLayer(houses.shadows)
        self.roof_layer = BurnLayer(houses.roofs)
        self.roof_colours = houses.roof_colours
        self.field_table = fields
        self.field_layer = BurnLayer(fields.polygons)


def build_layout(spec: SceneSpec) -> SceneLayout:
    """All vectors of a scene (deterministic for ``spec``)."""
    return SceneLayout(spec)


def landslide_polygons(spec: SceneSpec) -> list[Polygon]:
    """The scene's truth polygons in CRS coordinates: unioned, hole-free, inside the scene."""
    return build_layout(spec).landslides
