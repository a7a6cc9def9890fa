"""Package-level names that live in submodules and are imported on first use (PEP 562).

Each stage package lists its public names in its ``__init__``; other stages import them from the package
(``from sercross.features import load_features``), never from its modules, so a package can rearrange its
modules freely. Importing a package stays cheap: torch, openSMILE or scipy load only with the module that
needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` is found in ``package.exports[name]``.

    A public name may not be the name of one of the package's modules: once that module is imported, Python binds
    it as the package's attribute, which wins over ``__getattr__``, and the name would give the module.
    """
    clash = sorted(set(exports) & set(exports.values()))
    if clash:
        raise ImportError(f"{package}: {', '.join(clash)} would name both a public object and a module")

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
