import dataclasses
from dataclasses import fields

import pytest

from sercross.infra.errors import SercrossError
from sercross.methods.config import ADDED_TRAIN_FIELDS, DEFAULT_ALPHA, TrainConfig, get_preset
from sercross.methods.registry import METHODS, PLUS_OPTIONS, MethodSpec, get_method


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


@pytest.mark.parametrize(
    "field, value, near",
    [
        ("weight_update", "epochs", "epoch"),  # ran per step before, silently
        ("recon_loss", "mse", None),
        ("recon_loss", "BCE", "bce"),
        ("lr_schedule", "cosin", "cosine"),
        ("bn_mode", "join", "joint"),
    ],
)
def test_a_misspelt_choice_fails_when_the_config_is_built(field, value, near):
    with pytest.raises(SercrossError) as err:
        TrainConfig(**{field: value})
    message = err.value.message
    assert f"TrainConfig.{field}" in message and repr(value) in message
    assert (f"did you mean {near!r}" in message) == (near is not None)
    assert "one of" in err.value.hint


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0), ("epochs", 2.5), ("lr", 0.0), ("lr", -1e-3), ("lr", float("nan")), ("batch_size", 1),
        ("dropout", 1.0), ("dropout", -0.1), ("noise_std", -1.0), ("pseudo_threshold", 1.5),
        ("pseudo_threshold", -0.1), ("weight_decay", -1.0), ("kernel_num", 0), ("kernel_mul", 0.0),
        ("norm_momentum", 1.0), ("grad_share_every", -1), ("threads", -2), ("adapt_weight", -0.5),
        ("adabn_chunk", 1), ("encoder_sizes", ()), ("dnn_sizes", (600, 0)), ("adabn", "yes"), ("ramp", 1),
    ],
)
def test_a_value_out_of_range_fails_when_the_config_is_built(field, value):
    with pytest.raises(SercrossError, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_a_value_of_the_wrong_type_is_called_so():
    with pytest.raises(SercrossError, match="TrainConfig.lr = 'abc' is not a number"):
        TrainConfig(lr="abc")
    with pytest.raises(SercrossError, match="TrainConfig.epochs = 2.5 is not an integer"):
        TrainConfig(epochs=2.5)
    with pytest.raises(SercrossError, match="TrainConfig.lr = 0.0 is out of range"):
        TrainConfig(lr=0.0)


def test_the_extremes_of_each_range_are_allowed():
    TrainConfig(epochs=1, batch_size=2, dropout=0.0, noise_std=0.0, pseudo_threshold=1.0, grad_share_every=0,
                norm_momentum=0.0, encoder_sizes=[5, 4, 3])  # lists (as read back from JSON) become tuples
    assert TrainConfig(encoder_sizes=[5, 4, 3]).encoder_sizes == (5, 4, 3)


def test_presets_refuse_unknown_settings():
    with pytest.raises(SercrossError, match="did you mean 'epochs'"):
        get_preset("fast", epoch=3)
    with pytest.raises(SercrossError, match="TrainConfig.weight_update"):
        get_preset("fast", weight_update="epochs")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"weighting": "normalised"}, "weighting"),  # fell back to dynamic weights without alpha before
        ({"kind": "svm"}, "kind"),
        ({"group": "ourz"}, "group"),
        ({"input_norm": "speakers"}, "input_norm"),
        ({"normalized_terms": ("L_S", "Ly")}, "normalized_terms"),
        ({"overrides": {"rampp": True}}, "overrides"),
        ({"overrides": {"bn_mode": "shared"}}, "bn_mode"),
        ({"terms": (True,) * 9}, "terms"),
        ({"terms": (1, 0, 1)}, "terms"),
        ({"alpha": (1.0, -1.0)}, "alpha"),
        ({"discriminator_width": 0}, "discriminator_width"),
    ],
)
def test_a_misspelt_method_definition_fails_when_it_is_built(change, field):
    with pytest.raises(SercrossError, match=field):
        dataclasses.replace(METHODS["tlmlda_plus"], **change)


def test_a_close_weighting_name_is_suggested():
    with pytest.raises(SercrossError) as err:
        MethodSpec("x", "y", weighting="dynamic-alpha")
    assert "did you mean 'dynamic_alpha'" in err.value.message and "'normalized'" in err.value.hint


def test_later_fields_are_left_out_of_the_compact_dict_while_they_hold_their_earlier_value():
    cfg = TrainConfig()
    compact = cfg.compact_dict()
    assert set(cfg.to_dict()) - set(compact) == set(ADDED_TRAIN_FIELDS)
    assert TrainConfig.from_dict(compact) == cfg
    other = dataclasses.replace(cfg, adabn_chunk=64)
    assert other.compact_dict()["adabn_chunk"] == 64 and TrainConfig.from_dict(other.compact_dict()) == other
    with pytest.raises(SercrossError, match="unknown training settings"):
        TrainConfig.from_dict({**compact, "warp": 9})


def test_fingerprint_keys_that_matter_to_some_methods_only():
    assert "normalized_terms" in METHODS["tlmlda_plus"].fingerprint
    assert "normalized_terms" not in METHODS["tlmlda_plus_no_norm"].fingerprint
    assert "discriminator_width" in METHODS["dann_spk"].fingerprint
    assert "discriminator_width" not in METHODS["dan"].fingerprint
