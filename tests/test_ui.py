from sercross.ui import _console, duration


def test_duration_picks_a_readable_unit():
    assert duration(42) == "42 s"
    assert duration(151) == "2.5 min"
    assert duration(3 * 3600 + 360) == "3.1 h"


def test_output_to_a_file_keeps_long_lines_whole(monkeypatch, capsys):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = _console(stderr=False)
    assert not console.is_terminal
    path = "/very/long/" + "folder/" * 20 + "metrics.json"
    console.print(f"wrote {path}", highlight=False)
    assert f"wrote {path}\n" in capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "100")  # the user's choice wins
    assert _console(stderr=False).width == 100

