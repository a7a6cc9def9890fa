"""Class sets as users name them: canonical or native names, any case, duplicates and unknown names refused."""

import pytest

from sercross.corpora import load_manifest
from sercross.experiments.classes import native_labels, resolve_classes
from sercross.infra.errors import SercrossError

BERLIN = {"berlin": native_labels(load_manifest("berlin")), "casia": native_labels(load_manifest("casia"))}


def test_canonical_names_in_any_case():
    assert resolve_classes("Anger, FEAR,sadness") == ("anger", "fear", "sadness")
    assert resolve_classes(["fear", "anger"]) == ("fear", "anger")


def test_a_corpus_s_own_labels_name_its_classes():
    # EmoDB's labels are German initials: W (Wut) = anger, A (Angst) = fear, T (Trauer) = sadness
    assert resolve_classes("w,a,T", BERLIN) == ("anger", "fear", "sadness")
    assert resolve_classes("angry,Sad", BERLIN) == ("anger", "sadness")  # CASIA's folder names


@pytest.mark.parametrize("text, message", [
    ("anger,anger,fear", "names anger more than once"),
    ("anger,W", r"names anger \(anger, W\) more than once"),
    ("", "names no class"),
    (",", "names no class"),
    ("happy,anger", "unknown class 'happy': did you mean 'happiness'?"),
    ("angr", "did you mean 'anger'?"),
])
def test_bad_class_sets_are_refused_clearly(text, message):
    with pytest.raises(SercrossError, match=message):
        resolve_classes(text, {"berlin": BERLIN["berlin"]})


def test_happy_is_casia_s_own_label_for_happiness():
    assert resolve_classes("happy", BERLIN) == ("happiness",)


def test_a_label_two_corpora_read_differently_is_ambiguous():
    with pytest.raises(SercrossError, match="means different classes"):
        resolve_classes("x,anger", {"a": {"x": "fear"}, "b": {"X": "sadness"}})
