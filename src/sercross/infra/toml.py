"""TOML in and out: reading with the standard library's ``tomllib`` (``tomli`` before Python 3.11), and writing the
plain documents sercross stores (experiment files, copies of manifests): strings, numbers, booleans, arrays and
tables, nested tables and arrays of tables. Python's standard library has no TOML writer.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_loads(text: str) -> dict:
    return tomllib.loads(text)


def toml_dumps(doc: Mapping, comment: str = "") -> str:
    """``doc`` as TOML: plain keys first, then tables (``[a]``) and arrays of tables (``[[a]]``). ``comment``: lines
    written first, each as a ``#`` comment. None values are left out (TOML has no null)."""
    head = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines()) if comment else ""
    return head + _table(doc, ())


def _table(doc: Mapping, path: tuple[str, ...]) -> str:
    plain = {k: v for k, v in doc.items() if v is not None and not _is_table(v) and not _is_table_array(v)}
    lines = [f"{_key(k)} = {_value(v)}" for k, v in plain.items()]
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in doc.items():
        if _is_table(v):
            sub = path + (k,)
            out += f"\n[{'.'.join(_key(p) for p in sub)}]\n" + _table(v, sub)
        elif _is_table_array(v):
            sub = path + (k,)
            for item in v:
                out += f"\n[[{'.'.join(_key(p) for p in sub)}]]\n" + _table(item, sub)
    return out


def _is_table(v: object) -> bool:
    return isinstance(v, Mapping)


def _is_table_array(v: object) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(i, Mapping) for i in v)


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string is a JSON string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(i) for i in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(i)}" for k, i in v.items() if i is not None) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")
