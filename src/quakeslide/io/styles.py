"""What makes predict's outputs open in QGIS as a readable map with no clicks.

QGIS loads `<raster stem>.qml` beside a raster as its style, and a GeoPackage's
`layer_styles` row marked useAsDefault as a layer's style (the QGIS GeoPackage styling
extension). GDAL reads category names, a colour table and a CRS from the PAM sidecar
`<file>.aux.xml`. A world file places a plain picture (the quicklook) on the map.

Dragged into QGIS together, the outputs stack in name order, the first on top: outlines
(cyan, no fill) over the mask (violet, see-through) over the probability (yellow to red,
transparent below the threshold) over the quicklook. Each colour stands apart from the
others and from imagery (greens, browns, greys).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from affine import Affine

from quakeslide.classes import CLASS_NAMES, LANDSLIDE

OUTLINE_RGBA = (0, 229, 255, 255)  # cyan: the landslide outlines everywhere
RAMP_LOW_RGBA = (255, 220, 0, 150)  # probability at the threshold
RAMP_HIGH_RGBA = (230, 30, 30, 230)  # probability 1
# background transparent; landslide violet and see-through, so the probability under it shows
MASK_COLOURS = {0: (0, 0, 0, 0), LANDSLIDE: (150, 60, 255, 110)}
PROBABILITY_DESCRIPTION = "landslide probability"
MASK_DESCRIPTION = "landslide mask (0 background, 1 landslide)"

_HEADER = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def _hex(rgba: tuple[int, int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


def probability_qml(threshold: float) -> str:
    """A yellow-to-red ramp from `threshold` to 1 (values read 0..1); transparent below."""
    stops = [(threshold, RAMP_LOW_RGBA, f"{threshold:.2f}"), (1.0, RAMP_HIGH_RGBA, "1")]
    return _ramp_qml(stops, clip=True)


def _ramp_qml(stops: list[tuple[float, tuple[int, int, int, int], str]], clip: bool) -> str:
    """A single-band ramp interpolated between `stops` (value, RGBA, label); `clip`:
    values outside the first and last stop not drawn."""
    items = "\n".join(
        f'          <item value="{value:.6g}" color="{_hex(rgba)}" alpha="{rgba[3]}"'
        f" label={quoteattr(label)}/>"
        for value, rgba, label in stops
    )
    return (
        f'{_HEADER}<qgis version="3.28" styleCategories="Symbology">\n  <pipe>\n'
        f'    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1"'
        f' classificationMin="{stops[0][0]:.6g}" classificationMax="{stops[-1][0]:.6g}">\n'
        "      <rasterTransparency/>\n      <rastershader>\n"
        '        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1"'
        f' clip="{int(clip)}">\n'
        f"{items}\n        </colorrampshader>\n      </rastershader>\n"
        "    </rasterrenderer>\n  </pipe>\n</qgis>\n"
    )


def mask_qml() -> str:
    """A palette: landslide violet and see-through, background transparent."""
    entries = "\n".join(
        f'        <paletteEntry value="{value}" color="{_hex(rgba)}" alpha="{rgba[3]}"'
        f" label={quoteattr(CLASS_NAMES[value])}/>"
        for value, rgba in MASK_COLOURS.items()
    )
    return (
        f'{_HEADER}<qgis version="3.28" styleCategories="Symbology">\n  <pipe>\n'
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1">\n'
        f"      <rasterTransparency/>\n      <colorPalette>\n{entries}\n"
        "      </colorPalette>\n    </rasterrenderer>\n  </pipe>\n</qgis>\n"
    )


def outline_qml() -> str:
    """Polygons as cyan outlines with no fill, so everything under them stays visible."""
    return _outline_qml(OUTLINE_RGBA, "0.6")


SUGGESTION_RGBA = (255, 140, 0, 255)  # orange: apart from the landslides' cyan


def suggestion_qml() -> str:
    """Suggested squares as orange outlines, labelled with their rank at their centre."""
    colour = ",".join(map(str, SUGGESTION_RGBA))
    labels = (
        '  <labeling type="simple">\n    <settings calloutType="simple">\n'
        f'      <text-style fieldName="rank" isExpression="0" fontSize="14" fontWeight="75"'
        f' textColor="{colour}">\n'
        '        <text-buffer bufferDraw="1" bufferSize="1" bufferColor="0,0,0,255"/>\n'
        "      </text-style>\n"
        '      <placement placement="1"/>\n    </settings>\n  </labeling>\n'
    )
    return _outline_qml(SUGGESTION_RGBA, "0.8", labels)


def _outline_qml(rgba: tuple[int, int, int, int], width: str, labels: str = "") -> str:
    """Polygons as outlines of `rgba`, no fill; with `labels`, labelled as they say."""
    props = {"color": "0,0,0,0", "style": "no", "outline_color": ",".join(map(str, rgba)),
             "outline_style": "solid", "outline_width": width,
             "outline_width_unit": "MM"}  # fmt: skip
    options = "\n".join(f'            <prop k="{k}" v="{v}"/>' for k, v in props.items())
    categories = "Symbology|Labeling" if labels else "Symbology"
    enabled = ' labelsEnabled="1"' if labels else ""
    return (
        f'{_HEADER}<qgis version="3.28" styleCategories="{categories}"{enabled}>\n'
        '  <renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0">\n'
        "    <symbols>\n"
        '      <symbol type="fill" name="0" alpha="1" clip_to_extent="1">\n'
        '        <layer class="SimpleFill" enabled="1" pass="0" locked="0">\n'
        f"{options}\n        </layer>\n      </symbol>\n    </symbols>\n"
        f"  </renderer-v2>\n{labels}</qgis>\n"
    )


def mask_pam_xml(names: tuple[str, ...] = CLASS_NAMES) -> str:
    """GDAL PAM sidecar of the mask: its values' names (value i is names[i]) and a colour
    table of those classes only (a TIFF palette always holds 256 entries: a legend of 256)."""
    categories = "".join(f"<Category>{escape(name)}</Category>" for name in names)
    entries = "".join(
        '<Entry c1="{}" c2="{}" c3="{}" c4="{}"/>'.format(*MASK_COLOURS[value])
        for value in range(len(names))
    )
    return (
        '<PAMDataset>\n  <PAMRasterBand band="1">\n    <ColorInterp>Palette</ColorInterp>\n'
        f"    <CategoryNames>{categories}</CategoryNames>\n"
        f"    <ColorTable>{entries}</ColorTable>\n"
        "  </PAMRasterBand>\n</PAMDataset>\n"
    )


def crs_pam_xml(crs_wkt: str | None) -> str:
    """GDAL PAM sidecar giving a picture placed by a world file its CRS (a world file holds
    none: QGIS would call it unknown and misplace it in a project of another CRS); an
    empty one for a scene without a CRS."""
    srs = f"  <SRS>{escape(crs_wkt)}</SRS>\n" if crs_wkt else ""
    return f"<PAMDataset>\n{srs}</PAMDataset>\n"


def add_default_style(gpkg: Path, layer: str, geometry_column: str, qml: str) -> None:
    """Store `qml` in the GeoPackage's layer_styles table as `layer`'s default style."""
    with sqlite3.connect(gpkg) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256),"
            " f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,"
            " useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30),"
            " update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        db.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier)"
            " VALUES ('layer_styles', 'attributes', 'layer_styles')"
        )
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name,"
            " f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description,"
            " owner, ui) VALUES ('', '', ?, ?, ?, ?, '', 1, 'written by quakeslide', '', '')",
            (layer, geometry_column, layer, qml),
        )
    db.close()


def world_file_text(transform: Affine, scale: tuple[float, float]) -> str:
    """World file of a picture of the scene, `scale` picture pixels per scene pixel (rows,
    columns): pixel sizes, rotations, then the centre of the top-left picture pixel."""
    picture = transform * Affine.scale(1 / scale[1], 1 / scale[0])
    x, y = picture * (0.5, 0.5)
    values = (picture.a, picture.d, picture.b, picture.e, x, y)
    return "\n".join(f"{v:.10f}" for v in values) + "\n"


def density_stops(maximum: float) -> list[tuple[float, tuple[int, int, int, int]]]:
    """A density grid's colours: clear at 0, orange, dark red at `maximum` (QGIS and the
    map page draw it alike)."""
    top = max(maximum, 1e-9)
    return [(0.0, (255, 255, 255, 0)), (top / 2, (253, 141, 60, 170)), (top, (165, 0, 38, 220))]


def density_qml(maximum: float, label: str) -> str:
    """A density grid as a clear-to-dark-red ramp from 0 to `maximum`."""
    (low, clear), (middle, orange), (top, red) = density_stops(maximum)
    stops = [(low, clear, "0"), (middle, orange, f"{middle:.3g}"),
             (top, red, f"{top:.3g} {label}")]  # fmt: skip
    return _ramp_qml(stops, clip=False)
