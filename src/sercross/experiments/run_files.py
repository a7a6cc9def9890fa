"""Reading a run folder back: its config.json, its fitted estimator, the inputs its model was trained on, and an
error that names the runs there are when the folder holds none.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np

from sercross.experiments.keys import PairKey
from sercross.experiments.pairs import Pair, model_inputs
from sercross.infra import SercrossError, check_meta, read_json, sha1_bytes
from sercross.methods import METHODS, MethodSpec, TrainConfig


def load_estimator(out: Path):
    """Rebuild the fitted estimator of a run folder."""
    cfg = read_run_config(out)
    if cfg.get("method") == "auto":  # an auto folder names the candidate run it picked
        if "picked_run_dir" not in cfg:
            raise SercrossError(f"{out} averages {len(cfg.get('member_run_dirs') or [])} candidate runs: it has no "
                                "single model", hint="its members are listed in member_run_dirs of its config.json")
        return load_estimator(Path(cfg["picked_run_dir"]))
    path = out / cfg["model_file"]
    data = path.read_bytes() if path.is_file() else b""
    if not data or sha1_bytes(data) != cfg.get("model_sha1"):
        raise SercrossError(
            f"{path} is missing or does not match {out / 'config.json'} (an interrupted re-training?)",
            hint="train the run again with --force",
        )
    if cfg["model_file"].endswith(".pkl"):  # written by train_run, checksum verified above
        if (cfg.get("method_spec") or {}).get("adapter") is None:
            return _SercrossUnpickler(io.BytesIO(data)).load()
        from sercross.methods.skada_env import skada_context

        with skada_context():  # unpickling a skada pipeline imports skada, which would switch routing on for good
            return _SercrossUnpickler(io.BytesIO(data)).load()
    import torch

    from sercross.methods import NetworkEstimator, TLMLDANet

    blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tc = TrainConfig.from_dict(blob["config"])
    # model.pt names its method; one no longer defined still loads, to predict.
    spec = METHODS.get(blob["method"]) or MethodSpec(blob["method"], "not defined in this version; loaded to predict")
    est = NetworkEstimator(spec, tc, tuple(blob["alpha"]), random_state=blob["random_state"])
    est.model_ = TLMLDANet.for_config(blob["n_features"], blob["n_classes"], tc)
    est.model_.load_state_dict(blob["state_dict"])
    est.model_.eval()
    est.n_features_in_, est.n_classes_ = blob["n_features"], blob["n_classes"]
    return est


# Modules that moved since runs were pickled (sercross 0.1.0 had one flat package): old model.pkl files load.
_MOVED_MODULES = {"sercross.baselines": "sercross.methods.pca_svm"}


class _SercrossUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        return super().find_class(_MOVED_MODULES.get(module, module), name)



def _finished_runs_near(out: Path) -> list[Path]:
    """Finished runs in ``out`` if it is a method folder of a cache's runs/, or beside it if it is a run folder."""
    if out.parent.parent.name == "runs":
        method_dir = out
    elif out.parent.parent.parent.name == "runs":
        method_dir = out.parent
    else:
        return []
    return sorted(p.parent for p in method_dir.glob("*/config.json")) if method_dir.is_dir() else []


def _no_run_error(out: Path) -> SercrossError:
    from sercross.experiments.commands import run_command

    found = _finished_runs_near(out)
    why = "the folder does not exist" if not out.exists() else "it has no config.json"
    what = f"no finished run in {out}: {why}"
    if found:
        commands = []
        for p in found[:6]:
            try:
                commands.append(f"`{run_command(read_json(p / 'config.json'), 'evaluate')}`")
            except (KeyError, ValueError):
                commands.append(str(p))
        more = f" and {len(found) - 6} more in {found[0].parent}" if len(found) > 6 else ""
        return SercrossError(what, hint=f"this method's finished runs: {'; '.join(commands)}{more}")
    tag, _, seed = out.name.rpartition("-seed")
    if out.parent.parent.parent.name == "runs" and seed.isdigit():
        try:
            key = PairKey.from_dirname(out.parent.parent.name)
        except SercrossError:
            key = None
        if key is not None and not re.search(r"_(?!(e\d+|lr[0-9.eE+-]+|b\d+)(_|$))", tag):  # a tag read back whole
            cfg = {"source": key.source, "target": key.target, "classes": list(key.classes or ()),
                   "class_set": "default" if key.default else "chosen", "method": out.parent.name, "seed": int(seed),
                   "preset": tag, **({"target_set": key.target_set} if key.target_set != "shared" else {})}
            return SercrossError(what, hint=f"train it first: `{run_command(cfg)}`")
    return SercrossError(what, hint="give a run folder (<cache>/runs/SOURCE__TARGET/METHOD/TAG-seedK) or train one "
                         "with `sercross train --source A --target B` (see `sercross train --help`)")


def read_run_config(out: Path) -> dict:
    path = out / "config.json"
    if not path.is_file():
        raise _no_run_error(Path(out))
    cfg = read_json(path)
    check_meta(cfg, path, "run")
    return cfg


def run_inputs(run_config: dict, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """The source and target features the run's model was trained on (its method's input normalisation)."""
    return model_inputs(pair, (run_config.get("method_spec") or {}).get("input_norm", "corpus"))
