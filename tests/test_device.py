import pytest
import torch

from quakeslide import device
from quakeslide.device import ComputePlan, cpu_has_native_bf16, plan_compute, plan_training

AVX2_ONLY = frozenset({"avx", "avx2", "fma", "sse4_2"})
ZEN5 = AVX2_ONLY | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "amx_bf16", "amx_tile"}


def test_native_bf16_from_flags():
    assert not cpu_has_native_bf16(AVX2_ONLY)
    assert cpu_has_native_bf16(ZEN5)
    assert cpu_has_native_bf16(SAPPHIRE_RAPIDS)


@pytest.mark.parametrize(
    "flags,expected",
    [(AVX2_ONLY, "32-true"), (ZEN5, "bf16-mixed"), (SAPPHIRE_RAPIDS, "bf16-mixed")],
)
def test_cpu_precision_follows_the_cpu(monkeypatch, flags, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: flags)
    plan = plan_compute()
    assert (plan.device, plan.precision, plan.accelerator) == ("cpu", expected, "cpu")


def test_auto_trains_in_fp32_a_model_slower_under_cpu_bf16(monkeypatch):
    """`auto` on a bf16 CPU: fp32 for a model whose steps run slower under bf16 there; a
    GPU, an explicit precision and the other models are as `plan_compute` gives them."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: SAPPHIRE_RAPIDS)
    slower = plan_training("auto", "auto", cpu_training_autocast=False)
    assert (slower.precision, slower.autocast_dtype) == ("32-true", None)
    assert "fp32" in slower.reason
    assert plan_training("auto", "auto", cpu_training_autocast=True).precision == "bf16-mixed"
    assert plan_training("cpu", "bf16-mixed", cpu_training_autocast=False).precision == (
        "bf16-mixed"
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert plan_training("auto", "auto", cpu_training_autocast=False).precision == "bf16-mixed"


@pytest.mark.parametrize("bf16,expected", [(True, "bf16-mixed"), (False, "16-mixed")])
def test_gpu_is_selected_with_mixed_precision(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    plan = plan_compute()
    assert (plan.device, plan.precision, plan.accelerator) == ("cuda", expected, "gpu")
    assert plan.autocast_dtype == (torch.bfloat16 if bf16 else torch.float16)


def test_user_choice_wins_and_bad_choices_are_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert plan_compute("cpu", "32-true").precision == "32-true"
    with pytest.raises(ValueError, match="no CUDA"):
        plan_compute("cuda")
    with pytest.raises(ValueError, match="fp16"):
        plan_compute("cpu", "16-mixed")
    with pytest.raises(ValueError, match="unknown precision"):
        plan_compute("cpu", "fp8")


def test_channels_last_for_training_only_where_it_paid():
    assert ComputePlan("cpu", "bf16-mixed", "t").train_channels_last
    assert ComputePlan("cuda", "32-true", "t").train_channels_last
    assert not ComputePlan("cpu", "32-true", "t").train_channels_last
    assert ComputePlan("cpu", "32-true", "t").channels_last  # inference keeps it
    # a model that trains faster in NHWC in fp32 on a CPU (depthwise convolutions) gets it
    assert ComputePlan("cpu", "32-true", "t").train_channels_last_for(True)
    assert not ComputePlan("cpu", "32-true", "t").train_channels_last_for(False)
    assert ComputePlan("cpu", "bf16-mixed", "t").train_channels_last_for(False)
