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

from quakeslide.synthetic.files import make_scene
from quakeslide.synthetic.layout import SceneLayout, build_layout, landslide_polygons
from quakeslide.synthetic.render import render_window
from quakeslide.synthetic.spec import SceneSpec, SyntheticScene

__all__ = [
    "SceneLayout",
    "SceneSpec",
    "SyntheticScene",
    "build_layout",
    "landslide_polygons",
    "make_scene",
    "render_window",
]
