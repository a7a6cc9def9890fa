from dataclasses import fields

import pytest

from sercross.infra.errors import SercrossError
from sercross.methods.config import DEFAULT_ALPHA, METHODS, PLUS_OPTIONS, TrainConfig, get_method, get_preset


def test_each_tlmlda_plus_ablation_drops_exactly_one_option():
    full = METHODS["tlmlda_plus"]
    assert full.alpha == DEFAULT_ALPHA  # one alpha for every scheme: nothing tuned per corpus pair
    base = full.configure(TrainConfig())
    ablations = [m for m in METHODS.values() if m.name.startswith("tlmlda_plus_no_")]
    # every option, the normalised weighting, the diversity term, the speaker normalisation
    assert len(ablations) == len(PLUS_OPTIONS) + 3
    for m in ablations:
        cfg = m.configure(TrainConfig())
        changed = [f.name for f in fields(TrainConfig) if getattr(cfg, f.name) != getattr(base, f.name)]
        changed += ["weighting"] if m.weighting != full.weighting else []
        changed += ["terms"] if m.active != full.active else []
        changed += ["input_norm"] if m.input_norm != full.input_norm else []
        assert len(changed) == 1, (m.name, changed)


def test_fast_preset_needs_at_least_20_times_fewer_flops_than_paper():
    from sercross.methods.config import get_preset

    paper, fast = get_preset("paper"), get_preset("fast")
    # Same network and batch, hence FLOPs proportional to epochs (steps per epoch depend only on the batch).
    assert (paper.encoder_sizes, paper.dnn_sizes, paper.batch_size) == (fast.encoder_sizes, fast.dnn_sizes,
                                                                        fast.batch_size)
    assert paper.epochs / fast.epochs >= 20


def test_default_input_norm_leaves_the_method_fingerprint_as_it_was():
    # Runs made before input normalisation existed must stay reusable: the key appears only when not default.
    assert "input_norm" not in METHODS["only_cls"].fingerprint
    assert METHODS["only_cls_spk"].fingerprint["input_norm"] == "speaker"
    spk, plain = METHODS["only_cls_spk"], METHODS["only_cls"]
    assert (spk.active, spk.weighting) == (plain.active, plain.weighting)


def test_a_misspelt_method_or_preset_gets_the_name_it_resembles():
    with pytest.raises(SercrossError, match="did you mean 'tlmlda_plus'"):
        get_method("TLMLDA-plus")
    with pytest.raises(SercrossError, match="did you mean 'fast'"):
        get_preset("Fast")
    with pytest.raises(SercrossError) as err:
        get_method("magic")
    assert "did you mean" not in err.value.message and "tlmlda" in err.value.hint
