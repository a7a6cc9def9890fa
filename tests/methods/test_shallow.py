"""Shallow domain adaptation (skada): settings checked when built, the OT mappings' PCA cap taken from them."""

import dataclasses

import numpy as np
import pytest

from sercross.infra.errors import SercrossError
from sercross.methods.shallow import ShallowEstimator, ShallowSettings


@pytest.mark.parametrize("field, value", [("C", 0), ("C", "0.03"), ("max_iter", 0), ("pca_components", 2.5),
                                          ("pca_samples_per_component", 0), ("kmm_gamma", "1/n")])
def test_a_bad_setting_is_refused_when_built(field, value):
    with pytest.raises(SercrossError, match=field):
        ShallowSettings(**{field: value})


@pytest.mark.parametrize("per, n_components", [(2, 10), (4, 5)])
def test_the_ot_mappings_keep_at_most_one_component_per_so_many_utterances(per, n_components):
    rng = np.random.default_rng(0)
    Xs, Xt = rng.normal(size=(20, 40)), rng.normal(0.5, 1.0, size=(30, 40))
    ys = np.arange(20) % 3
    est = ShallowEstimator("linear_ot", ShallowSettings(pca_samples_per_component=per)).fit(Xs, ys, Xt, n_classes=3)
    assert est.pipeline_[1].get_estimator().n_components_ == n_components  # 20 source utterances / per
    assert est.transform(Xt).shape == (30, n_components)


def test_every_setting_is_in_what_a_run_stores():
    assert set(ShallowSettings().to_dict()) == {f.name for f in dataclasses.fields(ShallowSettings)}
