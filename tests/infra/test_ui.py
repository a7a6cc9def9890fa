from sercross.infra.ui import _console, hms


def test_hms():
    assert hms(42.4) == "0:00:42"
    assert hms(151) == "0:02:31"
    assert hms(3 * 3600 + 360) == "3:06:00"


def test_output_to_a_file_keeps_long_lines_whole(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = _console(stderr=False)
    assert not console.is_terminal
    path = "/very/long/" + "folder/" * 20 + "metrics.json"
    console.print(f"wrote {path}", highlight=False)
    assert f"wrote {path}\n" in capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "100")  # the user's choice wins
    assert _console(stderr=False).width == 100



def test_did_you_mean_is_one_rule_for_every_name():
    from sercross.infra import did_you_mean

    assert did_you_mean("happy", ["anger", "happiness", "sadness"]) == ": did you mean 'happiness'?"
    assert did_you_mean("TLMLDA-plus", ["tlmlda", "tlmlda_plus"]) == ": did you mean 'tlmlda_plus'?"
    assert did_you_mean("is10", ["IS09", "IS10"]) == ": did you mean 'IS10'?"
    assert did_you_mean("magic", ["tlmlda", "only_cls"]) == ""
