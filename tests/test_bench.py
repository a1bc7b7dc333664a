"""The speed paths and `quakeslide bench`: choices per device, the GPU path run on CPU."""

import json
import platform

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from quakeslide.bench import measure
from quakeslide.bench.paths import FP32, SpeedPath, fast_path
from quakeslide.bench.run import arithmetic, avx2_flags
from quakeslide.cli import app
from quakeslide.device import ComputePlan
from quakeslide.inference.engines import torch_engine
from quakeslide.models.checkpoint import NormalizedNet

AVX2_ONLY = frozenset({"avx", "avx2", "fma"})
ZEN5 = AVX2_ONLY | {"avx512f", "avx512_bf16"}


def test_fast_path_never_picks_bf16_on_a_cpu_without_native_bf16():
    assert fast_path("cpu", AVX2_ONLY).autocast is None
    assert fast_path("cpu", AVX2_ONLY).channels_last
    assert fast_path("cpu", ZEN5).autocast is torch.bfloat16
    assert FP32.autocast is None and not FP32.channels_last


def test_fast_path_trains_as_train_does():
    """NCHW for fp32 training on an AVX2-only CPU, channels_last under bf16, as `train`."""
    assert not fast_path("cpu", AVX2_ONLY).for_training("linknet").channels_last
    assert fast_path("cpu", ZEN5).for_training("linknet").channels_last
    # depthwise-conv encoders train in NHWC in fp32 too, as `train` runs them
    assert fast_path("cpu", AVX2_ONLY).for_training("lite0-linknet").channels_last
    assert not FP32.for_training("lite0-linknet").channels_last


def test_fast_path_trains_lite0_linknet_in_fp32_on_a_bf16_cpu():
    """As `train`: its steps run slower under CPU bf16 autocast; lite0-unet's do not."""
    lite = fast_path("cpu", ZEN5).for_training("lite0-linknet")
    assert lite.autocast is None and lite.precision == "fp32" and lite.channels_last
    assert fast_path("cpu", ZEN5).for_training("lite0-unet").autocast is torch.bfloat16
    assert fast_path("cpu", ZEN5).autocast is torch.bfloat16  # its inference keeps bf16
    assert fast_path("cuda").for_training("lite0-linknet").autocast is not None
    entry = {"precision": "bf16", "train_precision": "fp32", "channels_last": True,
             "train_channels_last": True, "compile": False, "fold_batchnorm": True}  # fmt: skip
    label = arithmetic(entry)
    assert label == "bf16 (inference) + fp32 (training) + channels_last + BN folded (inference)"


def test_speed_paths_travel_to_the_child_jobs_unchanged():
    for path in (FP32, fast_path("cpu", ZEN5), fast_path("cpu", AVX2_ONLY, compile=True)):
        assert SpeedPath.from_json(json.loads(json.dumps(path.to_json()))) == path


@pytest.mark.parametrize("bf16,dtype", [(True, torch.bfloat16), (False, torch.float16)])
def test_gpu_fast_path_choice(monkeypatch, bf16, dtype):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    path = fast_path("cuda")
    assert path.channels_last and path.autocast is dtype


def test_the_gpu_path_runs_on_cpu(monkeypatch):
    """What a bf16 GPU gets (channels_last + bf16 autocast) run by the same code on CPU:
    only the capability query is mocked, the timed steps are real."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    gpu_path = fast_path("cuda")
    assert measure.inference_rate("linknet", gpu_path, "cpu", 2, 64, 0.01) > 0
    assert measure.training_rate("linknet", gpu_path, "cpu", 2, 64, 0.01) > 0


def test_engine_on_the_fast_path_agrees_with_fp32():
    torch.manual_seed(0)
    net = NormalizedNet("linknet", [0.5] * 3, [0.25] * 3).eval()
    batch = np.random.default_rng(0).integers(0, 256, (2, 3, 64, 96), dtype=np.uint8)
    plain = torch_engine(net, ComputePlan("cpu", "32-true", "test", channels_last=False))
    fast = torch_engine(net, ComputePlan("cpu", "bf16-mixed", "test", channels_last=True))
    reference, result = plain.predict(batch), fast.predict(batch)
    assert result.shape == reference.shape == (2, 64, 96)
    assert np.abs(result - reference).max() < 0.05  # bf16 keeps 8 bits of mantissa


@pytest.mark.slow
def test_bench_command_writes_json_and_table(tmp_path):
    out = tmp_path / "bench"
    command = ["bench", "--out", str(out), "--size", "64", "--seconds", "0.02"]
    result = CliRunner().invoke(app, [*command, "--models", "linknet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "bench.json").read_text())
    assert report["peak_gflops"]["fp32"] > 0
    assert report["machine"]["cpu_flags"] is not None and report["machine"]["cpu"]
    for name in ("fp32", "fast"):
        entry = report["models"]["linknet"][name]
        for key in ("infer_img_s", "train_img_s", "infer_peak_frac", "train_peak_frac"):
            assert entry[key] > 0
        assert entry["peak_rss_mb"] > 0
    fast = report["models"]["linknet"]["fast"]
    assert fast["precision"] in report["peak_gflops"]
    assert report["machine"]["freed_memory_kept"] == (platform.libc_ver()[0] == "glibc")
    assert fast["infer_speedup"] == pytest.approx(
        fast["infer_img_s"] / report["models"]["linknet"]["fp32"]["infer_img_s"], abs=0.01
    )
    assert 0 <= report["data_wait"]["fraction"] < 1
    assert "| linknet | fast |" in (out / "bench.md").read_text()


@pytest.mark.slow
def test_bench_emulating_an_avx2_cpu(tmp_path):
    """Kernels limited to AVX2 in every job, and the fast path chosen from AVX2 flags."""
    assert avx2_flags(ZEN5 | {"amx_bf16"}) == AVX2_ONLY
    out = tmp_path / "bench"
    command = ["bench", "--out", str(out), "--size", "64", "--seconds", "0.02", "--emulate-avx2"]
    result = CliRunner().invoke(app, [*command, "--models", "linknet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "bench.json").read_text())
    assert report["machine"]["kernel_isa"] in ("AVX2", "DEFAULT")  # never above AVX2
    assert report["machine"]["emulated_isa"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert set(report["peak_gflops"]) == {"fp32"}  # bf16 never chosen without native support
    fast = report["models"]["linknet"]["fast"]
    assert fast["precision"] == "fp32" and fast["channels_last"]
    assert not fast["train_channels_last"]  # fp32 training stays NCHW, as `train` runs it
    assert "emulating an AVX2-only CPU" in (out / "bench.md").read_text()


def test_bench_refuses_unknown_models(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--out", str(tmp_path), "--models", "resnet"])
    assert result.exit_code == 2 and "unknown model 'resnet'" in result.output
