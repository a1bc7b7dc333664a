"""Two DDP processes on CPU (gloo) train one tiny epoch through the command line."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import write_tile_dataset

from quakeslide.models.checkpoint import load_net


@pytest.mark.slow
def test_two_process_ddp_on_cpu_writes_a_loadable_checkpoint(tmp_path):
    dataset = tmp_path / "tiles"
    write_tile_dataset(dataset, rows=3, cols=3, size=32)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "quakeslide", "train", str(dataset), "--out", str(run)]
    options = ["--epochs", "1", "--batch-size", "2", "--augment", "1", "--devices", "2"]
    options += ["--accelerator", "cpu", "--precision", "32-true"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    done = subprocess.run(command + options, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["devices"] == 2 and summary["epochs"] == 1
    net, meta = load_net(run / "checkpoints" / "best.ckpt")
    assert meta["model"] == "linknet"
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 2, 32, 32)
