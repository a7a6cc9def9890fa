"""Pair keys: a pair's identity (source, target, class set) and its folder name."""

import pytest

from sercross.experiments.keys import PairKey
from sercross.infra.errors import SercrossError


def test_the_default_class_set_keeps_the_folder_name_pairs_always_had(tmp_path):
    key = PairKey("berlin", "casia")
    assert key.default and key.dirname == "berlin__casia" and key.name == "berlin→casia" and key.label == "B→C"
    assert key.pair_dir(tmp_path, "IS10") == tmp_path / "pairs" / "berlin__casia" / "IS10"
    assert key.run_dir(tmp_path, "tlmlda", "fast", 3) == tmp_path / "runs" / "berlin__casia" / "tlmlda" / "fast-seed3"


def test_another_class_set_has_its_own_folder_whatever_its_order():
    a = PairKey("berlin", "casia", ("sadness", "anger", "fear"))
    b = PairKey("berlin", "casia", ("anger", "fear", "sadness"))
    assert a == b and hash(a) == hash(b) and a.classes == ("anger", "fear", "sadness")
    assert a.dirname == "berlin__casia~anger+fear+sadness" and a.name == "berlin→casia (anger+fear+sadness)"
    assert a.label == "B→C (anger+fear+sadness)" and not a.default
    assert PairKey.from_dirname(a.dirname) == a and PairKey.from_dirname("x__y") == PairKey("x", "y")


@pytest.mark.parametrize("bad", [("anger", "anger"), ()])
def test_a_class_set_names_each_class_once(bad):
    with pytest.raises(SercrossError, match="once"):
        PairKey("a", "b", bad)


@pytest.mark.parametrize("bad", ["berlin", "berlin__", "a__b~"])
def test_folder_names_that_are_not_pairs_are_refused(bad):
    with pytest.raises(SercrossError, match="not a pair folder"):
        PairKey.from_dirname(bad)
