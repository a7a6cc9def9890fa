import importlib

import pytest

from sercross._lazy import lazy_exports

PACKAGES = ["sercross.corpora", "sercross.features", "sercross.methods", "sercross.experiments",
            "sercross.selection", "sercross.report", "sercross.infra"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_the_object_even_after_its_module_was_imported(package):
    pkg = importlib.import_module(package)
    names = [n for n in dir(pkg) if not n.startswith("_")]
    for name in names:
        getattr(pkg, name)  # imports every module that defines a public name
    hidden = [n for n in names if type(getattr(pkg, n)).__name__ == "module"]
    assert not hidden, f"{package}: {hidden} give a module, not the object"


def test_a_public_name_that_is_also_a_module_name_is_refused():
    with pytest.raises(ImportError, match="run_state"):
        lazy_exports("pkg", {"run_state": "run_state", "train_run": "runs"})
