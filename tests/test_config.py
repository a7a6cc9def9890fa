from dataclasses import fields

from sercross.config import DEFAULT_ALPHA, METHODS, PLUS_OPTIONS, TrainConfig


def test_each_tlmlda_plus_ablation_drops_exactly_one_option():
    full = METHODS["tlmlda_plus"]
    assert full.alpha == DEFAULT_ALPHA  # one alpha for every scheme: nothing tuned per corpus pair
    base = full.configure(TrainConfig())
    ablations = [m for m in METHODS.values() if m.name.startswith("tlmlda_plus_no_")]
    assert len(ablations) == len(PLUS_OPTIONS) + 2  # every option, the normalised weighting, the diversity term
    for m in ablations:
        cfg = m.configure(TrainConfig())
        changed = [f.name for f in fields(TrainConfig) if getattr(cfg, f.name) != getattr(base, f.name)]
        changed += ["weighting"] if m.weighting != full.weighting else []
        changed += ["terms"] if m.active != full.active else []
        assert len(changed) == 1, (m.name, changed)


def test_fast_preset_needs_at_least_20_times_fewer_flops_than_paper():
    from sercross.config import get_preset

    paper, fast = get_preset("paper"), get_preset("fast")
    # Same network and batch, hence FLOPs proportional to epochs (steps per epoch depend only on the batch).
    assert (paper.encoder_sizes, paper.dnn_sizes, paper.batch_size) == (fast.encoder_sizes, fast.dnn_sizes,
                                                                        fast.batch_size)
    assert paper.epochs / fast.epochs >= 20
