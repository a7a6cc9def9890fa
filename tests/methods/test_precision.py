"""Precision: detecting native bf16, resolving ``auto``, and bf16 mixed-precision training."""

import dataclasses

import numpy as np
import pytest
import torch

from sercross.infra.errors import SercrossError
from sercross.methods import TrainConfig, get_preset, native_bf16, preset_tag, resolve_precision
from sercross.methods.estimator import NetworkEstimator
from sercross.methods.precision import Resolved, as_fp32, cpu_bf16_flags, forward_precision
from sercross.methods.registry import get_method
from sercross.methods.training import Trainer

SMALL = TrainConfig(epochs=2, lr=1e-3, batch_size=16, encoder_sizes=(24, 16, 8), dnn_sizes=(12, 6), threads=1)

X86_ZEN3 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
X86_SPR = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ARM_V9 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize("text, found", [(X86_ZEN3, ()), (X86_SPR, ("avx512_bf16", "amx_bf16")),
                                         (ARM_V9, ("bf16",)), ("", ())])
def test_native_bf16_flags_are_read_from_cpuinfo(text, found):
    assert cpu_bf16_flags(cpuinfo=text) == found


def test_native_bf16_flags_are_read_from_torch_capabilities_first():
    assert cpu_bf16_flags({"avx2": True, "avx512_bf16": False, "amx_bf16": False}) == ()
    assert cpu_bf16_flags({"avx512_bf16": True, "amx_bf16": True}) == ("avx512_bf16", "amx_bf16")
    assert cpu_bf16_flags({"avx512_bf16": True}, cpuinfo=X86_ZEN3) == ("avx512_bf16",)


def test_bf16_is_native_only_with_the_instructions_and_torch_using_them():
    assert native_bf16(("amx_bf16",), onednn=True).precision == "bf16"
    without = native_bf16((), onednn=True)
    assert without.precision == "fp32" and "no native bf16" in without.reason
    unused = native_bf16(("avx512_bf16",), onednn=False)
    assert unused.precision == "fp32" and "oneDNN" in unused.reason


def test_this_machine_agrees_with_its_cpuinfo():
    # The two sources must agree here: torch's query (used first) and /proc/cpuinfo (the fallback).
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert set(cpu_bf16_flags()) == set(cpu_bf16_flags(cpuinfo=text))


def test_auto_resolves_by_the_cpu_and_says_why():
    yes = resolve_precision("auto", detect=lambda: Resolved("bf16", "this CPU computes bf16 natively (amx_bf16)"))
    no = resolve_precision("auto", detect=lambda: Resolved("fp32", "this CPU has no native bf16"))
    assert (yes.precision, no.precision) == ("bf16", "fp32")
    assert yes.reason.startswith("auto: ") and "amx_bf16" in yes.reason and "no native" in no.reason
    assert resolve_precision("bf16", detect=lambda: pytest.fail("fp32/bf16 need no detection")).precision == "bf16"
    with pytest.raises(SercrossError, match="did you mean 'bf16'"):
        resolve_precision("bf61")


def test_a_config_holds_a_resolved_precision_only():
    with pytest.raises(SercrossError, match="resolved before") as err:
        TrainConfig(precision="auto")
    assert "resolve_precision" in err.value.hint
    with pytest.raises(SercrossError, match="TrainConfig.precision"):
        TrainConfig(precision="fp16")
    assert get_preset("fast", precision="bf16").precision == "bf16"


def test_a_bf16_run_has_its_own_tag_and_fp32_keeps_the_old_one():
    assert preset_tag("fast") == preset_tag("fast", precision="fp32") == "fast"
    assert preset_tag("fast", precision="bf16") == "fast_bf16"
    assert preset_tag("paper", 20, 3e-4, precision="bf16") == "paper_e20_lr0.0003_bf16"


def test_forward_precision_runs_matmuls_in_bf16_and_the_outputs_come_back_in_fp32():
    a, b = torch.rand(4, 8), torch.rand(8, 3)
    with forward_precision("bf16"):
        low = a @ b
    with forward_precision("fp32"):
        high = a @ b
    assert low.dtype == torch.bfloat16 and high.dtype == torch.float32
    out = as_fp32(low, high, None)
    assert out[0].dtype == torch.float32 and out[1] is high and out[2] is None


def _toy(rng, n=40, d=20):
    ys = rng.integers(0, 3, n)
    return rng.random((n, d), dtype=np.float32), ys, rng.random((n, d), dtype=np.float32)


def test_bf16_training_keeps_master_weights_optimizer_losses_and_statistics_in_fp32(rng):
    Xs, ys, Xt = _toy(rng)
    cfg = dataclasses.replace(SMALL, precision="bf16")
    trainer = Trainer(get_method("tlmlda"), cfg, (1, 1, 3, 1, 1), 3, 0, Xs, ys, Xt)
    batch = trainer.forward(np.arange(16), np.arange(16), 1.0)
    for name in ("fs", "ft", "logit_s", "logit_t", "rec_s", "rec_t"):
        assert getattr(batch, name).dtype == torch.float32, name
    trainer.run()
    tensors = list(trainer.model.state_dict().values())
    tensors += [v for s in trainer.opt.state.values() for v in s.values()
                if torch.is_tensor(v) and v.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in tensors if t.is_floating_point())
    assert all(np.isfinite(r["loss_total"]) for r in trainer.history)


def test_bf16_trains_close_to_fp32_but_not_identically(rng):
    Xs, ys, Xt = _toy(rng)
    runs = {p: NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, precision=p), random_state=3)
            .fit(Xs, ys, Xt, 3) for p in ("fp32", "bf16")}
    first = [runs[p].history_[0]["loss_L_y"] for p in ("fp32", "bf16")]
    assert first[0] != first[1] and np.isclose(*first, rtol=2e-2)
    again = NetworkEstimator(get_method("tlmlda"), dataclasses.replace(SMALL, precision="bf16"), random_state=3)
    again.fit(Xs, ys, Xt, 3)
    for a, b in zip(runs["bf16"].model_.state_dict().values(), again.model_.state_dict().values()):
        assert torch.equal(a, b)  # bf16 is deterministic too
