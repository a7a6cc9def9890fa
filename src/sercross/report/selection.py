"""Which runs a report covers: one run folder, every run of a scheme, or the runs a benchmark listed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sercross.experiments import PairKey, run_key, scheme_key
from sercross.infra import SercrossError, read_csv, read_json, scheme_name
from sercross.methods import METHODS


@dataclass
class Run:
    """A finished run folder: its config.json and metrics.json, and the cache it belongs to."""

    path: Path
    config: dict
    metrics: dict
    cache: Path

    @property
    def source(self) -> str:
        return self.config["source"]

    @property
    def target(self) -> str:
        return self.config["target"]

    @property
    def method(self) -> str:
        return self.config["method"]

    @property
    def preset(self) -> str:
        return str(self.config["preset"])

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.metrics.get("classes") or self.config["classes"])

    @property
    def target_set(self) -> str:
        return self.config.get("target_set", "shared")

    @property
    def scheme(self) -> str:
        """The scheme, with the protocol when it is not the paper's (``B→C (target set all)``)."""
        return scheme_key(self.source, self.target) + ("" if self.target_set == "shared"
                                                       else f" (target set {self.target_set})")

    @property
    def key(self) -> PairKey:
        return run_key(self.config)

    @property
    def is_network(self) -> bool:
        return self.config.get("model_file", "").endswith(".pt")

    @property
    def label(self) -> str:
        return f"{self.method}, preset {self.preset}, seed {self.seed}"

    @property
    def shown_path(self) -> str:
        try:
            return str(self.path.relative_to(self.cache))
        except ValueError:
            return str(self.path)


def cache_of_run(path: Path) -> Path | None:
    """``<cache>`` of ``<cache>/runs/<scheme>/<method>/<preset>-seed<k>``, or None for a folder elsewhere."""
    p = Path(path).resolve()
    if len(p.parents) > 3 and p.parents[2].name == "runs":
        return p.parents[3]
    return None


def load_run(path: Path, cache: Path | None = None) -> Run:
    """A finished, scored run. ``cache`` is used only when the folder is not inside a cache's runs/."""
    from sercross.experiments import read_run_config

    path = Path(path)
    cfg = read_run_config(path)
    mpath = path / "metrics.json"
    if not mpath.is_file():
        raise SercrossError(f"run {path} has no metrics.json", hint=f"score it first: `sercross evaluate {path}`")
    metrics = read_json(mpath)
    if metrics.get("labelled", True) is False:
        raise SercrossError(f"the target of run {path} has no labels, so there is nothing to score or plot",
                            hint=f"its predictions are in {path / 'predictions.csv'}")
    return Run(path, cfg, metrics, cache_of_run(path) or Path(cache or path))


@dataclass
class Selection:
    """What a report covers."""

    name: str  # folder name under <cache>/reports/
    title: str
    description: str
    runs: list[Run]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason)
    kind: str = "runs"  # "run" | "scheme" | "benchmark" | "runs" (any list)
    ceilings: list[dict] = field(default_factory=list)  # a benchmark's in-corpus references (in_corpus.csv rows)

    @property
    def single(self) -> bool:
        return self.kind == "run"


def method_rank(method: str) -> tuple[int, str]:
    """Sort key of a method: the registry's order (the paper's methods first), unknown names last."""
    names = list(METHODS)
    return (names.index(method) if method in names else len(names), method)


def sort_runs(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (r.source, r.target, r.key.classes or (), method_rank(r.method), r.preset,
                                       r.seed))


def _try_load(path: Path, cache: Path, runs: list[Run], skipped: list[tuple[str, str]]) -> None:
    try:
        runs.append(load_run(path, cache))
    except SercrossError as exc:
        skipped.append((str(path), exc.message + (f" ({exc.hint})" if exc.hint else "")))


def _filter_preset(runs: list[Run], preset: str | None, what: str) -> list[Run]:
    if preset is None:
        return runs
    kept = [r for r in runs if r.preset == preset]
    if runs and not kept:
        have = ", ".join(sorted({r.preset for r in runs}))
        raise SercrossError(f"{what} has no run with preset {preset!r}", hint=f"presets found: {have}")
    return kept


def select_run(path: Path, cache: Path) -> Selection:
    run = load_run(path, cache)
    name = f"{run.key.dirname}-{run.method}-{run.preset}-seed{run.seed}"
    return Selection(name, f"{run.key.name}, {run.label}", f"one run: {run.shown_path}", [run], kind="run")


def select_scheme(cache: Path, source: str, target: str, preset: str | None = None,
                  classes: tuple[str, ...] | None = None) -> Selection:
    """Every run of a scheme: of each class set it was trained on, or of the class set ``classes`` (canonical
    names, any order)."""
    from sercross.experiments import corpus_name, pair_options, stored_key

    source, target = corpus_name(source, cache), corpus_name(target, cache)
    if classes:
        keys = [stored_key(cache, source, target, "IS10", classes)]
    else:  # the default class set and every other one
        keys = [PairKey.from_dirname(p.name) for p in sorted((cache / "runs").glob(f"{scheme_name(source, target)}*"))
                if p.name.partition("~")[0].removesuffix("@all") == scheme_name(source, target)]  # each target set
    what = keys[0].name if classes else scheme_key(source, target)
    train = f"`sercross train {' '.join(pair_options(keys[0] if classes else PairKey(source, target)))}`"
    runs: list[Run] = []
    skipped: list[tuple[str, str]] = []
    for key in keys:
        for rdir in sorted(p for p in (cache / "runs" / key.dirname).glob("*/*") if p.is_dir()):
            _try_load(rdir, cache, runs, skipped)
    if not runs and not skipped:
        raise SercrossError(f"no run of {what} in {cache}", hint=f"train one first: {train}")
    runs = _filter_preset(runs, preset, what)
    if not runs:
        raise SercrossError(f"no finished run of {what} in {cache}", hint=f"train one first: {train}")
    name = (keys[0].dirname if classes else scheme_name(source, target)) + (f"-{preset}" if preset else "")
    desc = f"every run of {what} in the cache" + (f" with preset {preset}" if preset else "")
    if not classes and len(keys) > 1:
        desc += f" ({len(keys)} class sets)"
    return Selection(name, what, desc, sort_runs(runs), skipped, kind="scheme")


def select_benchmark(cache: Path, name: str, preset: str | None = None) -> Selection:
    bdir = cache / "benchmarks" / name
    results = bdir / "results.csv"
    if not results.is_file():
        have = sorted(p.name for p in (cache / "benchmarks").glob("*") if (p / "results.csv").is_file())
        raise SercrossError(
            f"no benchmark {name!r} in {cache} (no {results})",
            hint=f"benchmarks found: {', '.join(have)}" if have else "run the benchmark first (`sercross --help`)",
        )
    rows = read_csv(results)
    if rows and "run_dir" not in rows[0]:
        raise SercrossError(f"{results} has no run_dir column", hint="re-run the benchmark with this sercross")
    runs, skipped = _benchmark_runs(rows, cache, bdir, results)
    runs = _filter_preset(runs, preset, f"benchmark {name!r}")
    if not runs:
        raise SercrossError(f"benchmark {name!r} lists no finished run", hint=f"see {results}")
    title = f"benchmark {name}" + (f", preset {preset}" if preset else "")
    from sercross.report.ceilings import read_ceilings

    return Selection(f"benchmark-{name}" + (f"-{preset}" if preset else ""), title,
                     f"the runs listed in {results}", sort_runs(runs), skipped, kind="benchmark",
                     ceilings=read_ceilings(bdir))


def _benchmark_runs(rows: list[dict], cache: Path, bdir: Path, results: Path) -> tuple[list[Run], list]:
    """The finished runs of results.csv's rows, each once, and the rows left out with the reason."""
    runs: list[Run] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for row in rows:
        raw = (row.get("run_dir") or "").strip()
        if not raw:
            skipped.append((f"{results} row {row}", "no run folder (the run did not finish?)"))
            continue
        path = _resolve_run_dir(raw, cache, bdir)
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        before = len(runs)
        _try_load(path, cache, runs, skipped)
        try:
            listed = float(row.get("war") or "nan")
        except ValueError:
            listed = float("nan")
        if len(runs) > before and not math.isnan(listed) and listed != float(runs[-1].metrics["war"]):
            # The folder was trained again (other classes, --force) after the benchmark wrote its tables.
            now = runs.pop().metrics["war"]
            skipped.append((str(path), f"its WAR is now {float(now):.4f}, the benchmark listed {listed:.4f}: "
                            "the run was trained again since; run the benchmark again"))
    return runs, skipped


def _resolve_run_dir(raw: str, cache: Path, bdir: Path) -> Path:
    p = Path(raw).expanduser()
    if p.is_absolute():
        return p
    for base in (cache, bdir, Path.cwd()):
        if (base / p).is_dir():
            return base / p
    return cache / p
