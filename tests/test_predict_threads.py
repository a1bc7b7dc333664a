"""predict reads the scene in the main thread and writes outputs in a worker thread."""

import threading
import time

import numpy as np
import rasterio.io
from rasters import random_rgb, write_geotiff

from quakeslide.inference.engines import Engine
from quakeslide.inference.predict import predict_scene
from quakeslide.io.scene import SceneReader


def test_gdal_reads_and_writes_never_overlap(tmp_path, monkeypatch):
    """Both threads share GDAL's block cache: a read filling it flushed the writer's dirty
    blocks mid-write, which crashed about one 4000 px scene in ten (segfault, or "error
    while writing a dirty block"). Every read and write is timed here; none may overlap."""
    spans: dict[str, list[tuple[float, float]]] = {"read": [], "write": []}
    lock = threading.Lock()

    def timed(kind, method):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            time.sleep(0.003)  # widen each call so that an overlap cannot slip through
            result = method(*args, **kwargs)
            with lock:
                spans[kind].append((started, time.perf_counter()))
            return result

        return wrapper

    monkeypatch.setattr(SceneReader, "read", timed("read", SceneReader.read))
    writer = rasterio.io.DatasetWriter
    for name in ("write", "write_mask"):
        monkeypatch.setattr(writer, name, timed("write", getattr(writer, name)))
    scene = write_geotiff(tmp_path / "scene.tif", random_rgb(700, 300, seed=2))
    brightness = Engine(lambda batch: batch.astype(np.float32).mean(axis=1) / 255.0, 3)
    predict_scene(brightness, scene, tmp_path / "out", tile=64, overlap=16)
    assert len(spans["read"]) > 10 and len(spans["write"]) > 10
    for read_start, read_end in spans["read"]:
        for write_start, write_end in spans["write"]:
            assert read_end <= write_start or write_end <= read_start
