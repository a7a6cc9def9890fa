"""Where a corpus lives: ``--root``, else ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in the user's config file."""

from __future__ import annotations

import os
from pathlib import Path

from sercross.corpora.manifests import Manifest, read_toml
from sercross.infra import SercrossError

USER_CONFIG = Path("~/.config/sercross/config.toml")


def configured_root(manifest: Manifest) -> tuple[str | None, str | None]:
    """The root configured for a corpus and where it came from, without checking that it exists:
    ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in ~/.config/sercross/config.toml, else ``(None, None)``."""
    env = os.environ.get(manifest.env_var)
    if env:  # an empty variable counts as unset (it would otherwise mean the current folder)
        return env, manifest.env_var
    root = _config_root(manifest.name, manifest.aliases)
    if root:
        return root, str(USER_CONFIG)
    return None, None


def resolve_root(manifest: Manifest, root: str | os.PathLike | None = None) -> Path:
    """``--root``, else ``$SERCROSS_ROOT_<NAME>``, else ``[roots]`` in ~/.config/sercross/config.toml."""
    source: str | None = "--root"
    if root is None:
        root, source = configured_root(manifest)
    if root is None:
        raise SercrossError(
            f"no root folder given for corpus {manifest.name!r}",
            hint=f"pass --root PATH, set {manifest.env_var}, or add it under [roots] in {USER_CONFIG}",
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        why = "is a file, not a folder" if path.exists() else "does not exist"
        raise SercrossError(
            f"root folder {path} of corpus {manifest.name!r} (from {source}) {why}",
            hint="point it at the folder that holds the corpus as downloaded"
            + (f" ({manifest.layout})" if manifest.layout else ""),
        )
    return path


def _config_root(name: str, aliases: tuple[str, ...] = ()) -> str | None:
    cfg = USER_CONFIG.expanduser()
    if not cfg.is_file():
        return None
    roots = read_toml(cfg, str(cfg)).get("roots", {})
    if not isinstance(roots, dict):
        raise SercrossError(f"{cfg}: [roots] must be a table of corpus = \"path\" lines")
    for key in (name, *aliases):
        if roots.get(key):
            return str(roots[key])
    return None
