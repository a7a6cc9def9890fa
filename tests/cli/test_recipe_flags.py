import inspect

import typer
from typer.testing import CliRunner

from sercross.cli.recipe_flags import RecipeFlags, with_recipe_flags

RECIPE_OPTIONS = ("--preset", "--epochs", "--lr", "--batch-size", "--precision", "--set")


def test_a_command_gets_the_six_flags_as_one_recipe_flags():
    seen = []

    @with_recipe_flags
    def command(name: str = typer.Option("x", "--name"), flags: RecipeFlags = RecipeFlags(), last: int = 0) -> None:
        seen.append((name, flags, last))

    assert list(inspect.signature(command).parameters) == ["name", "preset", "epochs", "lr", "batch_size",
                                                           "precision", "set_", "last"]
    app = typer.Typer()
    app.command()(command)
    r = CliRunner().invoke(app, ["--name", "y", "--preset", "fast", "--epochs", "3", "--set", "ramp=false",
                                 "--set", "lr=0.1", "--last", "2"])
    assert r.exit_code == 0, r.output
    assert seen == [("y", RecipeFlags("fast", epochs=3, sets=("ramp=false", "lr=0.1")), 2)]
    assert seen[0][1].settings() == {"ramp": False, "lr": 0.1, "epochs": 3}


def test_the_flags_win_over_a_set_of_the_same_setting():
    assert RecipeFlags("fast", lr=0.01, sets=("lr=0.1",)).settings() == {"lr": 0.01}


def test_train_evaluate_and_benchmark_declare_the_recipe_flags_once_each():
    from sercross.cli import app

    commands = typer.main.get_command(app).commands
    for command in ("train", "evaluate", "benchmark"):
        options = [o for param in commands[command].params for o in param.opts]
        assert [options.count(o) for o in RECIPE_OPTIONS] == [1] * len(RECIPE_OPTIONS), command
