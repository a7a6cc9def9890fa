"""Reading the command line's strings: names with "did you mean", schemes, seeds, methods and groups, classes."""

import pytest

from sercross.cli import parsing
from sercross.infra import SercrossError
from sercross.methods import METHODS, PAPER_METHODS


def test_parsing_of_schemes_seeds_and_methods():
    assert parsing.parse_schemes("ravdess:casia, B:C,E->B") == [("ravdess", "casia"), ("B", "C"), ("E", "B")]
    assert parsing.parse_schemes("B→C") == [("B", "C")] and parsing.parse_schemes(None) == []
    assert parsing.parse_seeds("3") == (0, 1, 2) and parsing.parse_seeds("0,3,7") == (0, 3, 7)
    assert parsing.parse_seeds("2-4") == (2, 3, 4) and parsing.parse_seeds(None) == (0, 1, 2, 3, 4)
    assert parsing.parse_seeds("1,1,0") == (1, 0)
    assert parsing.parse_methods("pca_svm,tlmlda") == ("pca_svm", "tlmlda")
    assert "tlmlda_m" in parsing.parse_methods(None)
    for bad in ("x", "0", "-3", "a,b"):
        with pytest.raises(SercrossError):
            parsing.parse_seeds(bad)
    with pytest.raises(SercrossError, match="no run") as err:
        parsing.parse_seeds("0")
    assert "--seeds 1" in err.value.hint
    for bad in ("B-C", "B:", ":C"):
        with pytest.raises(SercrossError, match="cannot read scheme"):
            parsing.parse_schemes(bad)
    with pytest.raises(SercrossError, match="unknown method 'magic'") as err:
        parsing.parse_methods("magic")
    assert "groups paper, da, ours, shallow, selection, spk, all" in err.value.hint


def test_method_groups_come_from_the_registry_and_expand_in_order_without_duplicates():
    groups = parsing.method_groups()
    assert list(groups) == ["paper", "da", "ours", "shallow", "selection", "spk", "all"]
    assert not set(groups) & set(METHODS)  # a group name never hides a method
    for group, names in groups.items():  # every method is in exactly one group besides "all"
        assert names and all(n in METHODS for n in names), group
    assert sorted(n for g, names in groups.items() if g != "all" for n in names) == sorted(METHODS)
    assert all(METHODS[m].group == "da" for m in groups["da"])
    assert parsing.parse_methods("paper") == parsing.parse_methods(None) == PAPER_METHODS == groups["paper"]
    assert parsing.parse_methods("da") == ("dan", "dsan", "coral", "dann")
    mixed = parsing.parse_methods("only_cls,paper,DA,tlmlda_plus")
    assert mixed[0] == "only_cls" and mixed.count("only_cls") == 1 and mixed[-1] == "tlmlda_plus"
    assert "tlmlda_plus_no_spk" in parsing.parse_methods("ours") and "dann_spk" in parsing.parse_methods("spk")
    assert {"logreg", "sk_coral", "sk_coral_spk"} <= set(parsing.parse_methods("shallow"))
    assert set(parsing.parse_methods("all")) == set(METHODS)


def test_a_method_added_to_the_registry_joins_its_group(monkeypatch):
    from dataclasses import replace

    monkeypatch.setitem(METHODS, "dan_wide", replace(METHODS["dan"], name="dan_wide"))
    assert parsing.parse_methods("da")[-1] == "dan_wide" and "dan_wide" in parsing.parse_methods("all")


def test_names_are_matched_without_case_and_misspellings_get_the_closest_name():
    assert parsing.feature_set_name("is10") == "IS10" and parsing.feature_set_name("egemapsv02") == "eGeMAPSv02"
    assert parsing.feature_set_name("compare-2016") == "ComParE_2016"
    assert parsing.method_name("TLMLDA") == "tlmlda" and parsing.method_name("tlmlda-plus") == "tlmlda_plus"
    assert parsing.preset_or_tag("Fast") == "fast" and parsing.precision_name("BF16") == "bf16"
    assert parsing.parse_methods("Only_Cls,Paper")[0] == "only_cls"
    cases = [
        (parsing.feature_set_name, "IS11", "unknown feature set 'IS11': did you mean 'IS10'?"),
        (parsing.method_name, "tlmda", "unknown method 'tlmda': did you mean 'tlmlda'?"),
        (parsing.preset_or_tag, "papr", "unknown preset 'papr': did you mean 'paper'?"),
        (parsing.parse_methods, "paper,tlmlda_pluss", "unknown method 'tlmlda_pluss': did you mean 'tlmlda_plus'?"),
        (parsing.parse_methods, "ourss", "unknown method 'ourss': did you mean 'ours'?"),
        (parsing.known_corpus, "berlinn", "unknown corpus 'berlinn': did you mean 'berlin'?"),
        (parsing.precision_name, "bf61", "unknown precision 'bf61': did you mean 'bf16'?"),
    ]
    for parse, text, message in cases:
        with pytest.raises(SercrossError) as err:
            parse(text)
        assert err.value.message == message and err.value.hint
    with pytest.raises(SercrossError) as err:
        parsing.method_name("zzzz")
    assert "did you mean" not in err.value.message and "tlmlda" in err.value.hint  # nothing close: the list only


def test_a_run_tag_is_accepted_where_a_preset_is_but_a_misspelt_tag_is_not():
    for tag in ("paper_e20", "paper_e20_lr0.0003", "fast_lr1e-05_b50", "demo_e2", "fast_lr0.0003_ramp-false",
                "fast_weight_decay-0.001", "paper_e50_h0123456789", "fast_bf16", "paper_e20_bf16",
                "authors-code_bf16", "fast_lr0.0003_ramp-false_bf16"):
        assert parsing.preset_or_tag(tag) == tag
    assert parsing.preset_or_tag("authors_code") == "authors-code"
    for bad in ("paper_x20", "papr_e20", "paper_", "fast_bf16_e20", "fast_fp32"):
        with pytest.raises(SercrossError, match="unknown preset"):
            parsing.preset_or_tag(bad)


def test_known_corpus_accepts_names_aliases_and_case_and_leaves_them_as_typed(tmp_path):
    assert parsing.known_corpus("berlin") == "berlin" and parsing.known_corpus("B") == "B"
    assert parsing.known_corpus("EmoDB") == "EmoDB"
    assert {"berlin", "emodb", "casia", "demo_a"} <= set(parsing.corpus_names())
    with pytest.raises(SercrossError, match="not found") as err:  # a manifest path is not a misspelt name
        parsing.known_corpus(str(tmp_path / "mine.toml"))
    assert "did you mean" not in err.value.message


def test_classes_are_read_as_written_and_an_empty_list_is_refused():
    # canonical names, a corpus's own labels, duplicates: experiments.resolve_classes (tests/experiments)
    assert parsing.parse_classes(None) is None
    assert parsing.parse_classes("Anger, FEAR,W") == ("Anger", "FEAR", "W")
    for empty in ("", ",", " , "):
        with pytest.raises(SercrossError, match="names no class") as err:
            parsing.parse_classes(empty)
        assert "leave --classes out" in err.value.hint


def test_set_reads_values_as_toml_and_refuses_unknown_settings():
    assert parsing.parse_sets(["ramp=false", "lr=3e-4", "weighting=dynamic", "alpha=[1, 1, 3]", "epochs = 5"]) == {
        "ramp": False, "lr": 3e-4, "weighting": "dynamic", "alpha": [1, 1, 3], "epochs": 5}
    with pytest.raises(SercrossError, match="unknown setting 'rmap': did you mean 'ramp'"):
        parsing.parse_sets(["rmap=true"])
    with pytest.raises(SercrossError, match="not NAME=VALUE"):
        parsing.parse_sets(["ramp"])


def test_cache_written_after_the_command_is_moved_before_it():
    from sercross.cli.parsing import hoist_cache_option

    assert hoist_cache_option(["extract", "berlin", "--cache", "/c", "-j", "2"]) == [
        "--cache", "/c", "extract", "berlin", "-j", "2"]
    assert hoist_cache_option(["train", "--cache=/c", "--source", "B"]) == ["--cache=/c", "train", "--source", "B"]
    assert hoist_cache_option(["--cache", "/c", "report"]) == ["--cache", "/c", "report"]
    # nothing after --, and a --cache without its value is left for click to refuse
    assert hoist_cache_option(["predict", "--", "--cache", "/c"]) == ["predict", "--", "--cache", "/c"]
    assert hoist_cache_option(["extract", "--cache"]) == ["extract", "--cache"]


def test_the_entry_point_accepts_cache_after_the_command(tmp_path, monkeypatch, capsys):
    import sys

    from sercross.cli import main

    monkeypatch.setattr(sys, "argv", ["sercross", "corpora", "list", "--cache", str(tmp_path / "c")])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 0
    assert str(tmp_path / "c") in capsys.readouterr().out.replace("\n", "")
