"""How real QGIS opens a vector layer with its embedded style: its symbol colour and its
labels (on or off, the field), as one JSON line; and a render of it (PNG, 400 px).

Run by Debian's python3 (where `python3-qgis` lives), not the project's virtualenv:
    QT_QPA_PLATFORM=offscreen python3 qgis_labels.py GPKG LAYER OUT.png
"""

import json
import os
import sys

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsMapSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QSize

path, name, out = sys.argv[1:4]
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
symbol = layer.renderer().symbol() if layer.isValid() else None
labeling = layer.labeling() if layer.isValid() else None
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(layer.crs())
settings.setExtent(layer.extent().buffered(layer.extent().width() * 0.05))
settings.setOutputSize(QSize(400, 400))
job = QgsMapRendererParallelJob(settings)
job.start()
job.waitForFinished()
job.renderedImage().save(out)
report = {
    "valid": layer.isValid(),
    "features": layer.featureCount(),
    "outline": symbol.symbolLayer(0).strokeColor().name() if symbol else None,
    "labels": layer.labelsEnabled(),
    "label_field": labeling.settings().fieldName if labeling else None,
}
print(json.dumps(report), flush=True)
os._exit(0)  # QGIS 3.22 can crash in its own teardown (exitQgis): the work is done
