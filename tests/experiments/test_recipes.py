"""Recipes: a run's settings as its identity, and the tag of its folder."""

import pytest

from sercross.experiments.commands import run_command, run_recipe
from sercross.experiments.recipes import MAX_TAG, Recipe
from sercross.infra.errors import SercrossError
from sercross.methods import METHODS


def test_tags_stay_as_they_always_were():
    assert Recipe.build("tlmlda", "paper").tag == "paper"
    assert Recipe.build("tlmlda", "paper", {"epochs": 50}).tag == "paper_e50"
    assert Recipe.build("tlmlda", "fast", {"lr": 3e-4}).tag == "fast_lr0.0003"
    assert Recipe.build("tlmlda", "paper", {"batch_size": 32, "lr": 1e-5 * 2, "epochs": 20}).tag == \
        "paper_e20_lr2e-05_b32"


def test_any_other_setting_is_named_in_the_tag_in_name_order():
    r = Recipe.build("tlmlda_plus", "fast", {"weighting": "dynamic_alpha", "ramp": False, "lr": 3e-4})
    assert r.tag == "fast_lr0.0003_ramp-false_weighting-dynamic_alpha"
    assert Recipe.build("tlmlda", "fast", {"alpha": [1, 1, 3, 1, 1]}).tag == "fast_alpha-1x1x3x1x1"
    assert Recipe.build("tlmlda", "fast", {"terms": ["L_y", "MMD"]}).tag == "fast_terms-L_y+MMD"
    assert Recipe.build("tlmlda", "fast", feature_set="IS09").tag == "fast_features-IS09"


def test_a_long_tag_carries_a_hash_of_its_other_settings():
    many = {"epochs": 5, "encoder_sizes": [64, 32, 16], "dnn_sizes": [16, 8], "kernel_mul": 3.0, "dropout": 0.1}
    tag = Recipe.build("tlmlda", "fast", many).tag
    assert tag.startswith("fast_e5_h") and len(tag) <= MAX_TAG
    assert Recipe.build("tlmlda", "fast", {**many, "dropout": 0.2}).tag != tag


def test_a_setting_at_its_default_is_no_change():
    assert Recipe.build("dan", "fast", {"ramp": True}) == Recipe.build("dan", "fast")  # DAN ramps already
    assert Recipe.build("tlmlda", "fast", {"epochs": 20, "lr": 1e-3}).tag == "fast"
    assert Recipe.build("pca_svm", "fast", {"lr": 1}).tag == "fast"  # PCA + SVM reads no training setting
    assert Recipe.build("pca_svm", "fast", {"input_norm": "speaker"}).tag == "fast_input_norm-speaker"


def test_the_variant_keeps_its_method_s_name_and_applies_the_settings_last():
    r = Recipe.build("tlmlda_plus", "fast", {"ramp": False})
    assert r.spec.name == "tlmlda_plus" and r.spec.configure(r.config).ramp is False
    assert Recipe.build("tlmlda", "paper").spec is METHODS["tlmlda"]
    assert not Recipe.build("pca_svm").seeded and Recipe.build("pca_svm").run_seed(3) == 0


def test_bad_settings_are_refused():
    with pytest.raises(SercrossError, match="unknown setting 'rampp': did you mean 'ramp'"):
        Recipe.build("dan", "fast", {"rampp": True})
    with pytest.raises(SercrossError, match="did you mean 'dynamic'"):
        Recipe.build("dan", "fast", {"weighting": "dynamc"})
    with pytest.raises(SercrossError, match="unknown term 'MDD': did you mean 'MMD'"):
        Recipe.build("dan", "fast", {"terms": ["L_y", "MDD"]})


def test_the_command_of_a_run_gives_back_its_recipe():
    r = Recipe.build("tlmlda_plus", "fast", {"lr": 3e-4, "ramp": False})
    cfg = {"source": "berlin", "target": "casia", "classes": ["anger", "fear"], "class_set": "chosen",
           "method": "tlmlda_plus", "seed": 2, "recipe": r.to_dict(), "feature_set": "IS10"}
    assert run_command(cfg) == ("sercross train --source berlin --target casia --classes anger,fear --method "
                                "tlmlda_plus --preset fast --lr 0.0003 --set ramp=false --seed 2")
    old = {"source": "a", "target": "b", "classes": ["x"], "method": "m", "seed": 0, "preset": "paper_e20_lr0.0003"}
    assert run_recipe(old) == ("paper", {"epochs": 20, "lr": 0.0003})  # runs stored before recipes
    assert Recipe.from_dict(r.to_dict()) == r
