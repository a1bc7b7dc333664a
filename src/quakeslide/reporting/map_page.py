"""The interactive map of a predicted scene, for the report page: the quicklook with the
landslide polygons over it (Leaflet, vendored and embedded, so the page needs no network).

The map works in the scene's own CRS (Leaflet's CRS.Simple with one map unit = one CRS
unit, so the scale bar reads metres in a projected CRS). Lat / lon under the pointer come
from an affine fit of the CRS -> WGS84 transform over the scene, metres off at most over
a few km. Large inventories draw only the largest landslides, simplified to the pixel size.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from rasterio.warp import transform as warp_transform

from quakeslide.folders import PredictionOutputs
from quakeslide.io.styles import OUTLINE_RGBA
from quakeslide.records import PredictionSummary
from quakeslide.reporting.report_model import SceneMap

MAX_DRAWN = 5000  # landslides drawn and listed; the rest are counted in a note
FIELDS = ("id", "area_m2", "perimeter_m", "mean_prob")


def scene_map(outputs: PredictionOutputs, name: str, max_drawn: int = MAX_DRAWN) -> SceneMap:
    """The map of one scene of a prediction folder."""
    with rasterio.open(outputs.probability) as src:
        crs, transform, bounds = src.crs, src.transform, src.bounds
    flip = 1.0 if transform.e < 0 else -1.0  # pixel grids count rows down: show them upright
    left, bottom, right, top = bounds
    y0, y1 = sorted((bottom * flip, top * flip))
    meta, _, wkb, fields = pyogrio.raw.read(outputs.landslides, layer="landslides")
    values = dict(zip(meta["fields"], fields, strict=True))
    order = np.argsort(-np.nan_to_num(values["area_px"]))[:max_drawn]
    polygons = shapely.from_wkb(np.asarray(wkb, dtype=object)[order]) if len(order) else []
    if len(order):
        polygons = shapely.transform(polygons, lambda xy: xy * np.array([1.0, flip]))
        polygons = shapely.simplify(polygons, abs(transform.a), preserve_topology=True)
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(shapely.to_geojson(polygon)),
            "properties": {"id": int(values["id"][i])}
            | {key: _plain(values[key][i]) for key in FIELDS[1:]},
        }
        for polygon, i in zip(polygons, order, strict=True)
    ]
    summary = PredictionSummary.read(outputs.summary)
    projected = crs is not None and not crs.is_geographic
    return SceneMap(
        name,
        outputs.quicklook,
        (left, y0, right, y1),
        {"type": "FeatureCollection", "features": features},
        summary.count,
        _lonlat_fit(crs, (left, bottom, right, top)) if projected else None,
        "m" if projected else "px",
        summary.threshold,
    )


def _plain(value: object) -> object:
    """numpy scalars -> JSON numbers; NaN (area unknown) -> None."""
    number = float(value)
    return None if not np.isfinite(number) else round(number, 3)


def _lonlat_fit(crs, bounds: tuple[float, float, float, float]) -> list[float]:
    """Least-squares affine CRS -> lon / lat over a 5 x 5 grid of the scene."""
    left, bottom, right, top = bounds
    xs, ys = (
        g.ravel() for g in np.meshgrid(np.linspace(left, right, 5), np.linspace(bottom, top, 5))
    )
    lon, lat = warp_transform(crs, "EPSG:4326", xs.tolist(), ys.tolist())
    design = np.column_stack([xs, ys, np.ones_like(xs)])
    (a, b, c), *_ = np.linalg.lstsq(design, np.array(lon), rcond=None)
    (d, e, f), *_ = np.linalg.lstsq(design, np.array(lat), rcond=None)
    return [float(v) for v in (a, b, c, d, e, f)]


def leaflet_assets() -> str:
    """Leaflet's CSS and JS, inline (BSD-2-Clause; its licence ships beside them)."""
    vendor = resources.files("quakeslide.reporting") / "vendor" / "leaflet"
    css = (vendor / "leaflet.css").read_text(encoding="utf-8")
    js = (vendor / "leaflet.js").read_text(encoding="utf-8")
    return f"<style>{css}\n{MAP_STYLE}</style>\n<script>{js}</script>"


MAP_STYLE = """
.qs-map { height: 620px; border: 1px solid #bbb; margin: .5em 0; background: #222; }
.qs-box { background: rgba(255,255,255,.9); padding: .3em .6em; font-size: .85em; }
.qs-legend i { display: inline-block; width: 1.2em; height: .8em; margin-right: .4em;
  border: 2px solid #00e5ff; vertical-align: middle; }
.qs-list { max-height: 320px; overflow-y: auto; display: block; }
.qs-list tr { cursor: pointer; } .qs-list tr:hover { background: #fde8e8; }
"""


def map_html(scene: SceneMap, index: int) -> str:
    """One map div, its landslide table and the script that draws them."""
    element = f"qs-map-{index}"
    drawn = len(scene.landslides["features"])
    note = (
        f"Showing the {drawn} largest of {scene.total} landslides."
        if drawn < scene.total
        else f"{scene.total} landslides."
    )
    rows = "".join(
        f'<tr data-id="{f["properties"]["id"]}"><td>{f["properties"]["id"]}</td>'
        f"<td>{_number(f['properties']['area_m2'])}</td>"
        f"<td>{_number(f['properties']['perimeter_m'])}</td>"
        f"<td>{_number(f['properties']['mean_prob'], 3)}</td></tr>"
        for f in scene.landslides["features"]
    )
    data = {
        "element": element,
        "picture": "data:image/png;base64,"
        + base64.b64encode(scene.picture.read_bytes()).decode("ascii"),
        "bounds": scene.bounds,
        "landslides": scene.landslides,
        "lonlat": scene.lonlat,
        "unit": scene.unit,
        "threshold": scene.threshold,
        "colour": "#{:02x}{:02x}{:02x}".format(*OUTLINE_RGBA[:3]),
    }
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        f'<div class="qs-map" id="{element}"></div>\n<p>{html.escape(note)} Click a row to'
        " zoom to it; hover or click a landslide for its figures.</p>\n"
        f'<table class="qs-list" id="{element}-list"><caption>Landslides, largest first'
        "</caption><thead><tr><th>id</th><th>area (m2)</th><th>perimeter (m)</th>"
        f"<th>mean probability</th></tr></thead><tbody>{rows}</tbody></table>\n"
        f"<script>quakeslideMap({payload});</script>"
    )


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


MAP_SCRIPT = """<script>
function quakeslideMap(d) {
  const map = L.map(d.element, {crs: L.CRS.Simple, minZoom: -20, maxZoom: 8, zoomSnap: 0.25});
  const b = [[d.bounds[1], d.bounds[0]], [d.bounds[3], d.bounds[2]]];
  L.imageOverlay(d.picture, b).addTo(map);
  map.fitBounds(b);
  const flip = d.unit === 'px' ? -1 : 1;
  const fmt = (v, n) => v === null ? '-' : v.toLocaleString(undefined,
    {minimumFractionDigits: n, maximumFractionDigits: n});
  const byId = {};
  const layer = L.geoJSON(d.landslides, {
    style: {color: d.colour, weight: 2, fillColor: d.colour, fillOpacity: 0.08},
    onEachFeature: (f, l) => {
      const p = f.properties;
      const text = `landslide ${p.id}<br>area ${fmt(p.area_m2, 0)} m2<br>` +
        `perimeter ${fmt(p.perimeter_m, 0)} m<br>mean probability ${fmt(p.mean_prob, 3)}`;
      l.bindTooltip(text, {sticky: true});
      l.bindPopup(text);
      byId[p.id] = l;
    }
  }).addTo(map);
  if (d.unit === 'm') L.control.scale({imperial: false}).addTo(map);
  const box = (position, html) => {
    const c = L.control({position});
    c.onAdd = () => { const e = L.DomUtil.create('div', 'qs-box'); e.innerHTML = html; return e; };
    return c.addTo(map);
  };
  box('topright', `<div class="qs-legend"><i></i>landslide (probability &ge; ` +
      `${d.threshold})</div>`);
  const where = box('bottomright', 'move over the map');
  map.on('mousemove', e => {
    const x = e.latlng.lng, y = e.latlng.lat * flip;
    let text = d.unit === 'm' ? `x ${x.toFixed(1)} m, y ${y.toFixed(1)} m` :
      `column ${x.toFixed(0)}, row ${y.toFixed(0)}`;
    if (d.lonlat) {
      const [a, b1, c, dd, e1, f] = d.lonlat;
      text += ` | lat ${(dd * x + e1 * y + f).toFixed(6)}, lon ${(a * x + b1 * y + c).toFixed(6)}`;
    }
    where.getContainer().textContent = text;
  });
  document.querySelectorAll(`#${d.element}-list tbody tr`).forEach(row => {
    row.addEventListener('click', () => {
      const l = byId[row.dataset.id];
      map.fitBounds(l.getBounds(), {maxZoom: 4});
      l.openPopup();
    });
  });
  document.getElementById(d.element).dataset.drawn = layer.getLayers().length;
}
</script>"""
