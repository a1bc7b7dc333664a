"""Open predict's outputs for one scene in real QGIS (PyQGIS, headless) as a mapper does,
and write what QGIS made of them: the style of each layer (JSON on stdout) and renders.

Run by Debian's python3 (where `python3-qgis` lives), not the project's virtualenv:
    QT_QPA_PLATFORM=offscreen python3 qgis_render.py FOLDER STEM OUT_DIR

Every file of the scene that QGIS opens is added at once in name order, as a drag of the
folder does: QGIS stacks one batch with its first layer on top (outlines, mask,
probability, quicklook). Each layer loads its default style as QGIS does (the GeoPackage's
`layer_styles`, a `.qml` beside a raster). The map is drawn in Web Mercator, not the
scene's CRS, so a layer without a CRS would land elsewhere. Renders (PNG, 800 px):
all.png (every layer), outlines.png (the outlines alone), without_probability.png,
quicklook.png (the quicklook alone).
"""

import json
import os
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

SIDE = 800
MAP_CRS = "EPSG:3857"


def load(path: Path, default_style: bool = True):
    if path.suffix == ".gpkg":
        return QgsVectorLayer(f"{path}|layername=landslides", path.stem, "ogr")
    options = QgsRasterLayer.LayerOptions(loadDefaultStyle=default_style)
    return QgsRasterLayer(str(path), path.stem, "gdal", options)


def render(layers, extent, out: Path) -> None:
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(MAP_CRS))
    settings.setExtent(extent)
    settings.setOutputSize(QSize(SIDE, SIDE))
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(str(out), "PNG")


def describe(layer) -> dict:
    facts = {"valid": layer.isValid(), "crs": layer.crs().authid() or layer.crs().toWkt()[:40]}
    if isinstance(layer, QgsVectorLayer):
        symbol = layer.renderer().symbol()
        fill = symbol.symbolLayer(0)
        facts |= {
            "renderer": layer.renderer().type(),
            "fill_alpha": fill.fillColor().alpha() if fill.brushStyle() else 0,
            "outline_rgb": list(fill.strokeColor().getRgb()[:3]),
            "features": layer.featureCount(),
        }
    else:
        renderer = layer.renderer()
        facts |= {"renderer": renderer.type(), "bands": layer.bandCount()}
        if renderer.type() == "paletted":
            facts["classes"] = [c.value for c in renderer.classes()]
    return facts


def main(folder: Path, stem: str, out: Path) -> None:
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    files = sorted(p for p in folder.glob(f"{stem}_*") if p.suffix in (".gpkg", ".tif", ".png"))
    project = QgsProject.instance()
    project.setCrs(QgsCoordinateReferenceSystem(MAP_CRS))
    project.addMapLayers([load(p) for p in files])
    layers = project.layerTreeRoot().layerOrder()
    by_name = {layer.name(): layer for layer in layers}
    scene = by_name[f"{stem}_prob"]
    to_map = QgsCoordinateTransform(scene.crs(), project.crs(), project)
    extent = to_map.transformBoundingBox(scene.extent())
    out.mkdir(parents=True, exist_ok=True)
    render(layers, extent, out / "all.png")
    outlines = [by_name[f"{stem}_landslides"]]
    render(outlines, extent, out / "outlines.png")
    render([lyr for lyr in layers if lyr is not scene], extent, out / "without_probability.png")
    render([by_name[f"{stem}_quicklook"]], extent, out / "quicklook.png")
    mask_alone = load(folder / f"{stem}_mask.tif", default_style=False)
    report = {
        "order": [layer.name() for layer in layers],
        "layers": {layer.name(): describe(layer) for layer in layers},
        "mask_without_qml": describe(mask_alone),
        "scene_crs": scene.crs().authid(),
    }
    print(json.dumps(report), flush=True)
    os._exit(0)  # QGIS 3.22 can crash in its own teardown (exitQgis): the work is done


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
