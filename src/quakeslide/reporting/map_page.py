"""The interactive map of a predicted scene, for the report page: the quicklook with the
landslide polygons over it (Leaflet, vendored and embedded, so the page needs no network).
An inventory's map shows its polygons with the density grids as layers to switch on.

The map works in the scene's own CRS (Leaflet's CRS.Simple with one map unit = one CRS
unit, so the scale bar reads metres in a projected CRS). Lat / lon under the pointer come
from an affine fit of the CRS -> WGS84 transform over the scene, metres off at most over
a few km. Large inventories draw only the largest landslides, simplified to the pixel size.
"""

from __future__ import annotations

import base64
import html
import io
import json
from importlib import resources

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from quakeslide.folders import InventoryFolder, PredictionOutputs, SuggestionFolder
from quakeslide.io.styles import SUGGESTION_RGBA, density_stops
from quakeslide.records import InventoryRecord, PredictionSummary
from quakeslide.reporting.report_model import Overlay, SceneMap

MAX_DRAWN = 5000  # landslides drawn and listed; the rest are counted in a note
PREDICTION_COLUMNS = [("area_m2", "area (m2)", 0), ("perimeter_m", "perimeter (m)", 0),
                      ("mean_prob", "mean probability", 3)]  # fmt: skip
INVENTORY_COLUMNS = [("area_m2", "area (m2)", 0), ("volume_m3", "volume (m3)", 0)]
SUGGESTION_COLUMNS = [("rank", "rank", 0), ("uncertainty", "uncertainty (bits)", 3)]


def scene_map(outputs: PredictionOutputs, name: str, max_drawn: int = MAX_DRAWN) -> SceneMap:
    """The map of one scene of a prediction folder."""
    with rasterio.open(outputs.probability) as src:
        crs, transform, bounds = src.crs, src.transform, src.bounds
    flip = 1.0 if transform.e < 0 else -1.0  # pixel grids count rows down: show them upright
    left, bottom, right, top = bounds
    y0, y1 = sorted((bottom * flip, top * flip))
    features = _features(outputs.landslides, "area_px", PREDICTION_COLUMNS, flip,
                         abs(transform.a), max_drawn)  # fmt: skip
    summary = PredictionSummary.read(outputs.summary)
    projected = crs is not None and not crs.is_geographic
    return SceneMap(
        name,
        outputs.quicklook,
        (left, y0, right, y1),
        features,
        summary.count,
        _lonlat_fit(crs, (left, bottom, right, top)) if projected else None,
        "m" if projected else "px",
        f"landslide (probability &ge; {summary.threshold})",
        PREDICTION_COLUMNS,
    )


def inventory_map(folder: InventoryFolder, max_drawn: int = MAX_DRAWN) -> SceneMap:
    """An inventory's landslides (in its metric CRS) and its two density grids, off at
    first, to switch on."""
    record = InventoryRecord.read(folder.record)
    overlays = []
    for path, unit in ((folder.number_density, "landslides / km2"),
                       (folder.areal_density, "% of ground")):  # fmt: skip
        with rasterio.open(path) as grid:
            values, crs, bounds = grid.read(1), grid.crs, tuple(grid.bounds)
        top = float(values.max())
        legend = f"{top:,.0f}" if top >= 100 else f"{top:.3g}"
        overlays.append(Overlay(f"{unit} (0-{legend})", density_png(values, top), bounds))
    features = _features(folder.landslides, "area_m2", INVENTORY_COLUMNS, 1.0, 0.5, max_drawn)
    return SceneMap(
        "inventory",
        None,
        overlays[0].bounds,
        features,
        record.count,
        _lonlat_fit(crs, overlays[0].bounds),
        "m",
        "landslide",
        INVENTORY_COLUMNS,
        overlays,
    )


def suggestion_map(folder: SuggestionFolder) -> SceneMap:
    """The suggested squares, each over its chip (the chips can be switched off)."""
    meta, _, wkb, fields = pyogrio.raw.read(folder.suggestions, layer="suggestions")
    values = dict(zip(meta["fields"], fields, strict=True))
    squares = shapely.from_wkb(np.asarray(wkb, dtype=object))
    features = [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(square)),
         "properties": {"id": int(rank), "rank": int(rank),
                        "uncertainty": _plain(values["uncertainty"][i])}}
        for i, (square, rank) in enumerate(zip(squares, values["rank"], strict=True))
    ]  # fmt: skip
    chips = [(int(rank), folder.chip(int(rank)), square)
             for rank, square in zip(values["rank"], squares, strict=True)]  # fmt: skip
    overlays = [Overlay(f"chip {rank}", chip.read_bytes(), tuple(square.bounds), shown=True)
                for rank, chip, square in chips if chip is not None]  # fmt: skip
    left, bottom, right, top = shapely.total_bounds(squares)
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    projected = crs is not None and not crs.is_geographic
    return SceneMap(
        "suggestions",
        None,
        (left, bottom, right, top),
        {"type": "FeatureCollection", "features": features},
        len(features),
        _lonlat_fit(crs, (left, bottom, right, top)) if projected else None,
        "m" if projected else "px",
        "square to outline next (hover: its rank)",
        SUGGESTION_COLUMNS,
        overlays,
        item="square",
        order="in rank order",
        colour=SUGGESTION_RGBA[:3],
    )


def density_png(values: np.ndarray, maximum: float) -> bytes:
    """A density grid coloured as its QGIS style colours it (`io.styles.density_stops`)."""
    stops = density_stops(maximum)
    levels = [value for value, _ in stops]
    rgba = np.stack(
        [np.interp(values, levels, [colour[band] for _, colour in stops]) for band in range(4)],
        axis=-1,
    )
    buffer = io.BytesIO()
    Image.fromarray(np.round(rgba).astype(np.uint8), "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def _features(
    path, size_field: str, columns: list[tuple[str, str, int]], flip: float, pixel: float,
    max_drawn: int,
) -> dict:  # fmt: skip
    """The largest `max_drawn` polygons of a GeoPackage as GeoJSON in map units,
    simplified to the pixel size, with their `columns`' values."""
    meta, _, wkb, fields = pyogrio.raw.read(path, layer="landslides")
    values = dict(zip(meta["fields"], fields, strict=True))
    order = np.argsort(-np.nan_to_num(values[size_field]))[:max_drawn]
    polygons = shapely.from_wkb(np.asarray(wkb, dtype=object)[order]) if len(order) else []
    if len(order):
        polygons = shapely.transform(polygons, lambda xy: xy * np.array([1.0, flip]))
        polygons = shapely.simplify(polygons, pixel, preserve_topology=True)
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(shapely.to_geojson(polygon)),
            "properties": {"id": int(values["id"][i])}
            | {key: _plain(values[key][i]) for key, _, _ in columns},
        }
        for polygon, i in zip(polygons, order, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


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
.qs-grid { image-rendering: pixelated; }
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
    items = f"{scene.item}s"
    note = (
        f"Showing the {drawn} largest of {scene.total} {items}."
        if drawn < scene.total
        else f"{scene.total} {items}."
    )
    rows = "".join(
        f'<tr data-id="{f["properties"]["id"]}"><td>{f["properties"]["id"]}</td>'
        + "".join(
            f"<td>{_number(f['properties'][key], digits)}</td>" for key, _, digits in scene.columns
        )  # fmt: skip
        + "</tr>"
        for f in scene.landslides["features"]
    )
    headers = "".join(f"<th>{html.escape(header)}</th>" for _, header, _ in scene.columns)
    data = {
        "element": element,
        "picture": _data_url(scene.picture.read_bytes()) if scene.picture else None,
        "bounds": scene.bounds,
        "landslides": scene.landslides,
        "lonlat": scene.lonlat,
        "unit": scene.unit,
        "legend": scene.legend,
        "columns": scene.columns,
        "overlays": [
            {"name": o.name, "picture": _data_url(o.png), "bounds": o.bounds, "shown": o.shown}
            for o in scene.overlays
        ],
        "item": scene.item,
        "colour": "#{:02x}{:02x}{:02x}".format(*scene.colour),
    }
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        f'<div class="qs-map" id="{element}"></div>\n<p>{html.escape(note)} Click a row to'
        f" zoom to it; hover or click a {scene.item} for its figures.</p>\n"
        f'<table class="qs-list" id="{element}-list"><caption>{items.capitalize()},'
        f" {scene.order}"
        f"</caption><thead><tr><th>id</th>{headers}</tr></thead><tbody>{rows}</tbody></table>\n"
        f"<script>quakeslideMap({payload});</script>"
    )


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


MAP_SCRIPT = """<script>
function quakeslideMap(d) {
  const map = L.map(d.element, {crs: L.CRS.Simple, minZoom: -20, maxZoom: 8, zoomSnap: 0.25});
  const b = [[d.bounds[1], d.bounds[0]], [d.bounds[3], d.bounds[2]]];
  if (d.picture) L.imageOverlay(d.picture, b).addTo(map);
  map.fitBounds(b);
  const flip = d.unit === 'px' ? -1 : 1;
  const fmt = (v, n) => v === null ? '-' : v.toLocaleString(undefined,
    {minimumFractionDigits: n, maximumFractionDigits: n});
  const byId = {};
  const layer = L.geoJSON(d.landslides, {
    style: {color: d.colour, weight: 2, fillColor: d.colour, fillOpacity: 0.08},
    onEachFeature: (f, l) => {
      const p = f.properties;
      const text = `${d.item} ${p.id}<br>` +
        d.columns.map(([key, header, n]) => `${header} ${fmt(p[key], n)}`).join('<br>');
      l.bindTooltip(text, {sticky: true});
      l.bindPopup(text);
      byId[p.id] = l;
    }
  }).addTo(map);
  if (d.overlays.length) {
    const layers = {};
    d.overlays.forEach(o => {
      const ob = [[o.bounds[1], o.bounds[0]], [o.bounds[3], o.bounds[2]]];
      layers[o.name] = L.imageOverlay(o.picture, ob, {className: 'qs-grid', pane: 'tilePane'});
      if (o.shown) layers[o.name].addTo(map);
    });
    layers['outlines'] = layer;
    L.control.layers(null, layers, {collapsed: false}).addTo(map);
  }
  if (d.unit === 'm') L.control.scale({imperial: false}).addTo(map);
  const box = (position, html) => {
    const c = L.control({position});
    c.onAdd = () => { const e = L.DomUtil.create('div', 'qs-box'); e.innerHTML = html; return e; };
    return c.addTo(map);
  };
  box('topright', `<div class="qs-legend"><i></i>${d.legend}</div>`);
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
