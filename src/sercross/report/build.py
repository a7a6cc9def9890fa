"""Reports: collect finished runs, compute the data of every figure, write ``report.md`` and ``index.html``.

A report is a self-contained folder (default ``<cache>/reports/<name>/``)::

    report.md  index.html  figures/*.png  .sercross-report

``index.html`` opens offline: inline CSS, images by relative path, nothing fetched. Both files hold the same
content, rendered from one list of blocks.

The functions that compute figure data (:func:`confusion_counts`, :func:`mean_confusion`,
:func:`row_normalise`, :func:`recall_summary`, :func:`training_curves`, :func:`tsne_inputs`,
:func:`embed`, :func:`figure2_groups`) are small and free of plotting; :mod:`sercross.report.plots` draws.
Target labels are read from ``metrics.json`` / the pair only to score and to colour points.
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sercross import __version__
from sercross.experiments import Pair, load_pair
from sercross.infra import SercrossError, atomic_write_bytes, atomic_write_json, atomic_write_text, read_csv, read_json
from sercross.methods import LOSS_NAMES, METHODS, TERM_NAMES

FIGURE2_METHODS = ("only_cls", "tlmlda_m", "tlmlda")  # the paper's Figure 2, left to right
MARKER = ".sercross-report"
TSNE_SEED = 0

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- runs


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
    def scheme(self) -> str:
        return f"{self.source}→{self.target}"

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

    @property
    def single(self) -> bool:
        return self.kind == "run"


def _method_rank(method: str) -> tuple[int, str]:
    names = list(METHODS)
    return (names.index(method) if method in names else len(names), method)


def _sort_runs(runs: Iterable[Run]) -> list[Run]:
    return sorted(runs, key=lambda r: (r.source, r.target, _method_rank(r.method), r.preset, r.seed))


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
    name = f"{run.source}__{run.target}-{run.method}-{run.preset}-seed{run.seed}"
    return Selection(name, f"{run.scheme}, {run.label}", f"one run: {run.shown_path}", [run], kind="run")


def select_scheme(cache: Path, source: str, target: str, preset: str | None = None) -> Selection:
    from sercross.experiments import corpus_name
    from sercross.infra import scheme_name

    source, target = corpus_name(source), corpus_name(target)
    folder = cache / "runs" / scheme_name(source, target)
    if not folder.is_dir():
        raise SercrossError(
            f"no run of {source}→{target} in {cache}",
            hint=f"train one first: `sercross train --source {source} --target {target}`",
        )
    runs: list[Run] = []
    skipped: list[tuple[str, str]] = []
    for rdir in sorted(p for p in folder.glob("*/*") if p.is_dir()):
        _try_load(rdir, cache, runs, skipped)
    runs = _filter_preset(runs, preset, f"{source}→{target}")
    if not runs:
        raise SercrossError(
            f"no finished run of {source}→{target} in {cache}",
            hint=f"train one first: `sercross train --source {source} --target {target}`",
        )
    name = f"{source}__{target}" + (f"-{preset}" if preset else "")
    desc = f"every run of {source}→{target} in the cache" + (f" with preset {preset}" if preset else "")
    return Selection(name, f"{source}→{target}", desc, _sort_runs(runs), skipped, kind="scheme")


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
    runs = _filter_preset(runs, preset, f"benchmark {name!r}")
    if not runs:
        raise SercrossError(f"benchmark {name!r} lists no finished run", hint=f"see {results}")
    title = f"benchmark {name}" + (f", preset {preset}" if preset else "")
    return Selection(f"benchmark-{name}" + (f"-{preset}" if preset else ""), title,
                     f"the runs listed in {results}", _sort_runs(runs), skipped, kind="benchmark")


def _resolve_run_dir(raw: str, cache: Path, bdir: Path) -> Path:
    p = Path(raw).expanduser()
    if p.is_absolute():
        return p
    for base in (cache, bdir, Path.cwd()):
        if (base / p).is_dir():
            return base / p
    return cache / p


# --------------------------------------------------------------------------- figure data


def confusion_counts(run: Run) -> np.ndarray:
    """Target confusion counts of a run (rows true, columns predicted), as scored in metrics.json."""
    return np.asarray(run.metrics["confusion"], dtype=np.int64)


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its sum: recall per true class; NaN for a class without target samples."""
    cm = np.asarray(cm, dtype=float)
    support = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, cm / np.where(support > 0, support, 1), np.nan)


def mean_confusion(cms: Sequence[np.ndarray]) -> np.ndarray:
    """Element-wise mean of confusion counts over seeds (same target, so it sums to the target size)."""
    if not cms:
        raise ValueError("no confusion matrix to average")
    shapes = {np.shape(c) for c in cms}
    if len(shapes) != 1:
        raise ValueError(f"confusion matrices of different shapes: {sorted(shapes)}")
    return np.mean(np.stack([np.asarray(c, dtype=float) for c in cms]), axis=0)


def _recall_vector(run: Run) -> np.ndarray:
    rec = run.metrics["per_class_recall"]
    return np.array([np.nan if rec.get(c) is None else float(rec[c]) for c in run.classes], dtype=float)


@dataclass
class RecallSummary:
    methods: list[str]
    classes: tuple[str, ...]
    mean: np.ndarray  # (methods, classes), mean recall over seeds
    sd: np.ndarray  # sample sd over seeds (NaN for one seed)
    n_seeds: list[int]
    uar: list[float]  # mean UAR over seeds


def recall_summary(runs: Sequence[Run]) -> RecallSummary:
    """Per-class target recall of each method, mean and sd over its seeds (runs of one scheme, one preset)."""
    classes = runs[0].classes
    if any(r.classes != classes for r in runs):
        raise ValueError("runs with different class sets")
    by_method: dict[str, list[Run]] = {}
    for r in sorted(runs, key=lambda r: (_method_rank(r.method), r.seed)):
        by_method.setdefault(r.method, []).append(r)
    means, sds, n, uars = [], [], [], []
    for rs in by_method.values():
        vals = np.stack([_recall_vector(r) for r in rs])
        with warnings.catch_warnings():  # 'mean of empty slice' for a class absent from the target
            warnings.simplefilter("ignore", RuntimeWarning)
            means.append(np.nanmean(vals, axis=0))
            sds.append(np.nanstd(vals, axis=0, ddof=1) if len(rs) > 1 else np.full(len(classes), np.nan))
        n.append(len(rs))
        uars.append(float(np.mean([r.metrics["uar"] for r in rs])))
    return RecallSummary(list(by_method), classes, np.array(means), np.array(sds), n, uars)


def training_curves(run: Run):
    """The per-epoch series of a network run's history.csv (None for pca_svm or an empty history)."""
    from sercross.report.plots import Curves

    path = run.path / "history.csv"
    if not run.is_network or not path.is_file():
        return None
    rows = read_csv(path)
    if not rows or "epoch" not in rows[0]:
        return None

    def col(name: str) -> np.ndarray | None:
        if name not in rows[0]:
            return None
        return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])

    terms = METHODS[run.method].active if run.method in METHODS else None
    active, inactive = [], []
    for k, n in enumerate(TERM_NAMES):
        w = col(f"weight_{n}")
        on = terms[k] if terms is not None else (w is not None and np.nanmax(np.abs(w)) > 0)
        if on and col(f"loss_{n}") is not None:
            active.append(n)
        elif n in LOSS_NAMES:  # the baselines' extra terms are not worth a "not in this method" note
            inactive.append(n)
    monitor = col("target_war_monitor")
    if monitor is not None and np.isnan(monitor).all():
        monitor = None
    return Curves(
        epoch=col("epoch"),
        loss={n: col(f"loss_{n}") for n in active},
        weight={n: col(f"weight_{n}") for n in active if col(f"weight_{n}") is not None},
        effective={n: col(f"effective_{n}") for n in active if col(f"effective_{n}") is not None},
        total=col("loss_total"),
        source_acc=col("source_train_acc"),
        target_war_monitor=monitor,
        inactive=tuple(inactive),
        weighting=METHODS[run.method].weighting if run.method in METHODS else "",
        grad_share={n: col(f"grad_share_{n}") for n in active},
        monitor_before_adabn=bool((run.config.get("train") or {}).get("adabn")),
    )


@dataclass
class TsneInputs:
    """Learned 256-d features of one stored model, for the source and target utterances of its pair."""

    source: np.ndarray  # (n_s, d)
    target: np.ndarray  # (n_t, d)
    ys: np.ndarray
    yt: np.ndarray  # only to colour the target points
    classes: tuple[str, ...]


def run_pair(run: Run) -> Pair:
    """The pair a run was trained on, refused if it changed since (its fingerprint differs)."""
    pair = load_pair(run.cache, run.source, run.target, run.config["feature_set"])
    if pair.meta.get("fingerprint") != run.config.get("pair_fingerprint"):
        raise SercrossError(
            f"pair {pair.name} changed since run {run.path} was trained",
            hint="re-train the run (`sercross train ... --force`) to plot its features",
        )
    return pair


def tsne_inputs(run: Run, pair: Pair | None = None) -> TsneInputs:
    """``est.transform`` of the run's stored model on its pair's source and target (as the model saw them)."""
    from sercross.experiments import load_estimator, run_inputs

    if not run.is_network:
        raise SercrossError(f"{run.method} has no learned 256-d features", hint="t-SNE needs a network method")
    pair = pair if pair is not None else run_pair(run)
    est = load_estimator(run.path)
    Xs, Xt = run_inputs(run.config, pair)
    return TsneInputs(np.asarray(est.transform(Xs)), np.asarray(est.transform(Xt)),
                      np.asarray(pair.ys), np.asarray(pair.yt), tuple(pair.classes))


def embed(source: np.ndarray, target: np.ndarray, random_state: int = TSNE_SEED) -> tuple[np.ndarray, np.ndarray]:
    """One joint 2-d t-SNE of source and target features (so both live in the same map)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    X = np.vstack([source, target]).astype(np.float64)
    n = len(X)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    # One thread: OpenMP spinning threads make t-SNE 10-20x slower on a busy 2-core machine, and a few
    # thousand points take seconds anyway.
    with threadpool_limits(1):
        Y = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                 random_state=random_state, n_jobs=1).fit_transform(X)
    return Y[: len(source)], Y[len(source):]


def figure2_groups(runs: Sequence[Run], extra: Sequence[str] = ()) -> list[tuple[str, int, dict[str, Run]]]:
    """For each preset of one scheme: the seed with the most of Only_cls, TLMLDA_M, TLMLDA (ties: lowest seed)
    and those runs, as ``(preset, seed, {method: run})``. ``extra`` methods join the panels when present."""
    wanted = list(FIGURE2_METHODS) + [m for m in extra if m not in FIGURE2_METHODS]
    cells: dict[tuple[str, int], dict[str, Run]] = {}
    for r in runs:
        if r.method in wanted and r.is_network:
            cells.setdefault((r.preset, r.seed), {})[r.method] = r
    best: dict[str, tuple[str, int, dict[str, Run]]] = {}
    for (preset, seed), found in sorted(cells.items()):
        if preset not in best or len(found) > len(best[preset][2]):
            best[preset] = (preset, seed, found)
    return [(p, s, {m: found[m] for m in wanted if m in found}) for p, s, found in best.values()]


# --------------------------------------------------------------------------- document model

# Blocks: ("h", level, text) ("p", text) ("note", text) ("table", headers, rows, numeric_cols)
#         ("img", relpath, alt, caption) ("details", summary, blocks)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def _mean_sd(xs: Sequence[float]) -> str:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return f"{100 * xs[0]:.2f}"
    return f"{100 * np.mean(xs):.2f} ± {100 * np.std(xs, ddof=1):.2f}"


def summary_rows(runs: Sequence[Run]) -> list[list[str]]:
    """One row per (scheme, method, preset): number of seeds, WAR and UAR as mean ± sd over seeds, in %."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for r in _sort_runs(runs):
        groups.setdefault((r.scheme, r.method, r.preset), []).append(r)
    return [
        [scheme, method, preset, str(len(rs)), ", ".join(str(r.seed) for r in rs),
         _mean_sd([r.metrics["war"] for r in rs]), _mean_sd([r.metrics["uar"] for r in rs])]
        for (scheme, method, preset), rs in groups.items()
    ]


SUMMARY_HEADERS = ["scheme", "method", "preset", "seeds", "seed ids", "WAR %", "UAR %"]


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[tuple], depth: int = 0) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"{'#' * b[1]} {b[2]}\n")
        elif kind == "p":
            out.append(f"{b[1]}\n")
        elif kind == "note":
            out.append(f"> **Note.** {b[1]}\n")
        elif kind == "table":
            headers, rows, numeric = b[1], b[2], b[3]
            out.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
            out.append("|" + "|".join("---:" if i in numeric else "---" for i in range(len(headers))) + "|")
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
            out.append("")
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
            if b[3]:
                out.append(f"*{b[3]}*\n")
        elif kind == "details":
            out.append(f"{'#' * 4} {b[1]}\n")
            out.append(render_markdown(b[2], depth + 1))
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;
background:#fafafa;margin:0;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:1.2rem 2rem 4rem;background:#fff}
h1{font-size:1.7rem;border-bottom:2px solid #ddd;padding-bottom:.3rem}
h2{font-size:1.35rem;margin-top:2.4rem;border-bottom:1px solid #e4e4e4;padding-bottom:.2rem}
h3{font-size:1.1rem;margin-top:1.8rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #d8d8d8;padding:.28rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f3f7}
tr:nth-child(even) td{background:#fbfbfd}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.8rem 0 1.6rem}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88rem;color:#555;margin-top:.3rem}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.45rem .8rem;margin:.6rem 0;font-size:.92rem}
details{border:1px solid #e2e2e2;border-radius:4px;padding:.3rem .8rem;margin:.5rem 0}
details>summary{cursor:pointer;font-weight:600;padding:.2rem 0}
code{background:#f2f2f2;padding:0 .2rem;border-radius:3px}
"""


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text), quote=False))


def render_html_blocks(blocks: Sequence[tuple]) -> str:
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "note":
            out.append(f'<div class="note"><strong>Note.</strong> {_inline(b[1])}</div>')
        elif kind == "table":
            headers, rows, numeric = b[1], b[2], b[3]
            cls = [' class="num"' if i in numeric else "" for i in range(len(headers))]
            head = "".join(f"<th{cls[i]}>{_inline(h)}</th>" for i, h in enumerate(headers))
            body = "".join(
                "<tr>" + "".join(f"<td{cls[i]}>{_inline(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif kind == "img":
            src = html.escape(b[1], quote=True)
            cap = f"<figcaption>{_inline(b[3])}</figcaption>" if b[3] else ""
            out.append(f'<figure><img src="{src}" alt="{html.escape(b[2], quote=True)}" loading="lazy">{cap}</figure>')
        elif kind == "details":
            out.append(f"<details><summary>{_inline(b[1])}</summary>{render_html_blocks(b[2])}</details>")
    return "\n".join(out)


def render_html(title: str, blocks: Sequence[tuple]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{render_html_blocks(blocks)}\n</main>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------- the report


@dataclass
class ReportResult:
    out_dir: Path
    markdown: Path
    html: Path
    figures: list[Path]
    notes: list[str]
    runs: list[Run]


def _slug(*parts: object) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", str(p)) for p in parts)


def prepare_out_dir(out: Path) -> None:
    """Refuse to write into a non-empty folder that is not a sercross report (we clean figures/ there)."""
    if out.exists() and not out.is_dir():
        raise SercrossError(f"{out} exists and is not a folder", hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SercrossError(
            f"{out} is not empty and holds no sercross report",
            hint="choose an empty or new folder with --out (a report folder is rewritten in place)",
        )


class _Writer:
    def __init__(self, out: Path, progress: Progress | None):
        self.out = out
        self.figures: list[Path] = []
        self.notes: list[str] = []
        self.progress = progress or (lambda msg: None)
        self._pairs: dict[tuple, Pair | SercrossError] = {}

    def figure(self, fig, name: str, alt: str, caption: str) -> tuple:
        from sercross.report.plots import png_bytes

        rel, k = f"figures/{name}.png", 1
        while self.out / rel in self.figures:  # e.g. one scheme paired twice with other classes
            k += 1
            rel = f"figures/{name}-{k}.png"
        atomic_write_bytes(self.out / rel, png_bytes(fig))
        fig.clear()
        self.figures.append(self.out / rel)
        return ("img", rel, alt, caption)

    def note(self, text: str) -> tuple:
        self.notes.append(text)
        return ("note", text)

    def pair(self, run: Run) -> Pair:
        key = (str(run.cache), run.source, run.target, run.config["feature_set"], run.config.get("pair_fingerprint"))
        if key not in self._pairs:
            try:
                self._pairs[key] = run_pair(run)
            except SercrossError as exc:
                self._pairs[key] = exc
        got = self._pairs[key]
        if isinstance(got, SercrossError):
            raise got
        return got


def _run_table(runs: Sequence[Run]) -> tuple:
    classes = runs[0].classes
    headers = ["method", "preset", "seed", "WAR %", "UAR %"] + [f"recall {c} %" for c in classes] + \
        ["n target", "epochs", "train s", "run folder"]
    rows = []
    for r in runs:
        rec = r.metrics.get("per_class_recall", {})
        epochs = r.config.get("train", {}).get("epochs", "") if r.is_network else "–"
        rows.append([r.method, r.preset, str(r.seed), _pct(r.metrics["war"]), _pct(r.metrics["uar"])]
                    + [_pct(rec.get(c)) for c in classes]
                    + [str(r.metrics.get("n", "")), str(epochs), f"{r.config.get('train_seconds', float('nan')):.1f}",
                       f"`{r.shown_path}`"])
    numeric = set(range(2, len(headers) - 1))
    return ("table", headers, rows, numeric)


def _scheme_section(w: _Writer, runs: list[Run], single: bool, tsne: bool, aggregate: bool,
                    run_figures: bool = True) -> list[tuple]:
    from sercross.report.plots import TsnePanel, plot_confusion, plot_recall_bars, plot_training_curves, plot_tsne

    first = runs[0]
    scheme, sslug = first.scheme, _slug(first.source, first.target)
    blocks: list[tuple] = [("h", 2, f"{scheme}  ({', '.join(first.classes)})")]
    blocks.append(("p", f"Source (labelled, training) corpus: {first.source}; target (scored) corpus: {first.target}; "
                        f"{first.metrics.get('n', '?')} target utterances. WAR = accuracy (the paper's metric), "
                        "UAR = mean recall over classes; values in %, reported epoch: the last."))
    blocks.append(("h", 3, "Metrics on the target"))
    if aggregate:  # else the summary at the top is this very table
        blocks.append(("table", SUMMARY_HEADERS[1:], [row[1:] for row in summary_rows(runs)], {2, 4, 5}))
    blocks.append(_run_table(runs))

    # per-class recall, one figure per preset (methods side by side, mean over seeds)
    by_preset: dict[str, list[Run]] = {}
    for r in runs:
        by_preset.setdefault(r.preset, []).append(r)
    blocks.append(("h", 3, "Per-class recall"))
    for preset, rs in by_preset.items():
        w.progress(f"{scheme}: per-class recall ({preset})")
        rsum = recall_summary(rs)
        fig = plot_recall_bars(rsum.methods, rsum.classes, rsum.mean, rsum.sd, rsum.n_seeds, rsum.uar,
                               f"Per-class recall on the target — {scheme}, preset {preset} (mean over seeds)")
        blocks.append(w.figure(fig, _slug(sslug, "recall", preset), f"per-class recall {scheme} {preset}",
                               f"Recall of each true class on {first.target}; bars: mean over seeds, "
                               "whiskers: ±1 sd over seeds (when there are several)."))

    # t-SNE, the paper's Figure 2
    extra = [first.method] if single else []
    groups = figure2_groups(runs, extra) if tsne else []
    if tsne:
        blocks.append(("h", 3, "t-SNE of the learned features (the paper's Figure 2)"))
    else:
        blocks.append(w.note("t-SNE of the learned features (the paper's Figure 2): skipped (--no-tsne)."))
    if tsne and not groups:
        blocks.append(w.note(f"{scheme}: no run of {', '.join(FIGURE2_METHODS)} in this selection, so no t-SNE "
                             "(pca_svm has no 256-d learned features)."))
    for preset, seed, found in groups:
        panels, pair, drawn = [], None, {}
        missing = [m for m in FIGURE2_METHODS if m not in found]
        for method, run in found.items():
            w.progress(f"{scheme}: t-SNE of {method} ({preset}, seed {seed})")
            try:
                pair = w.pair(run)  # refused if the pair changed since this run was trained
                inp = tsne_inputs(run, pair)
            except SercrossError as exc:
                blocks.append(w.note(f"{scheme}, preset {preset}, seed {seed}: no t-SNE panel for {method}, "
                                     f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")))
                continue
            sxy, txy = embed(inp.source, inp.target)
            panels.append(TsnePanel(f"{method}  (target WAR {_pct(run.metrics['war'])}%)", sxy, txy, inp.yt))
            drawn[method] = run
        if not panels:
            continue
        found = drawn
        fig = plot_tsne(panels, pair.classes,
                        f"t-SNE of the learned 256-d features — {scheme}, preset {preset}, seed {seed}")
        order = f"Left to right: {', '.join(found)}." if len(found) > 1 else f"{', '.join(found)}."
        caption = (f"{order} Source utterances ({len(pair.ys)}) in grey, target utterances ({len(pair.yt)}) "
                   "coloured by their true class (labels only colour the points). One joint t-SNE per panel "
                   f"(scikit-learn, random_state={TSNE_SEED}).")
        blocks.append(w.figure(fig, _slug(sslug, "tsne", preset, f"seed{seed}"), f"t-SNE {scheme}", caption))
        if missing and single:
            blocks.append(w.note(f"a one-run report shows this run's panel only; `sercross report --source "
                                 f"{first.source} --target {first.target}` puts {', '.join(FIGURE2_METHODS)} side by "
                                 "side (the paper's Figure 2) when their runs exist."))
        elif missing:
            cmds = "; ".join(f"`sercross train --source {first.source} --target {first.target} --method {m} "
                             f"--preset {preset} --seed {seed}`" for m in missing)
            blocks.append(w.note(f"{scheme}, preset {preset}, seed {seed}: panel(s) {', '.join(missing)} omitted, "
                                 f"no such run in this selection. Add them with {cmds}"
                                 + (" (preset tags with overrides need the matching --epochs/--lr/--batch-size)."
                                    if "_" in preset else ".")))

    # confusion averaged over seeds
    groups_c: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        groups_c.setdefault((r.method, r.preset), []).append(r)
    multi = {k: rs for k, rs in groups_c.items() if len(rs) > 1}
    if multi:
        blocks.append(("h", 3, "Confusion on the target, averaged over seeds"))
        for (method, preset), rs in multi.items():
            w.progress(f"{scheme}: mean confusion of {method} ({preset})")
            cm = mean_confusion([confusion_counts(r) for r in rs])
            fig = plot_confusion(cm, row_normalise(cm), first.classes,
                                 f"Confusion on the target — {scheme}, {method} (preset {preset}, "
                                 f"mean of {len(rs)} seeds)", averaged_over=len(rs))
            blocks.append(w.figure(fig, _slug(sslug, "confusion", method, preset, "mean"),
                                   f"mean confusion {scheme} {method} {preset}",
                                   f"Seeds {', '.join(str(r.seed) for r in rs)}. Left: mean counts (rows: true class, "
                                   "columns: predicted); right: recall per true class."))

    # per run: confusion and training curves
    if not run_figures:
        blocks.append(w.note(f"{scheme}: the confusion matrix and training curves of each run are skipped "
                             "(--no-run-figures); the summary table lists every run."))
        return blocks
    blocks.append(("h", 3, "Each run: confusion and training curves"))
    for r in runs:
        w.progress(f"{scheme}: figures of {r.label}")
        inner: list[tuple] = []
        cm = confusion_counts(r)
        fig = plot_confusion(cm, row_normalise(cm), r.classes,
                             f"Confusion on the target — {scheme}, {r.method} (preset {r.preset}, seed {r.seed})")
        inner.append(w.figure(fig, _slug(sslug, "confusion", r.method, r.preset, f"seed{r.seed}"),
                              f"confusion {scheme} {r.label}",
                              f"WAR {_pct(r.metrics['war'])}%, UAR {_pct(r.metrics['uar'])}%. Rows: true class, "
                              "columns: predicted."))
        curves = training_curves(r)
        if curves is not None:
            fig = plot_training_curves(curves, f"Training curves — {scheme}, {r.method} (preset {r.preset}, "
                                               f"seed {r.seed})")
            inner.append(w.figure(fig, _slug(sslug, "curves", r.method, r.preset, f"seed{r.seed}"),
                                  f"training curves {scheme} {r.label}",
                                  "Per epoch (means over its steps): the losses L_i of the method, their weights w_i, "
                                  "the effective terms w_i·L_i, source training accuracy, and the target WAR — "
                                  "monitoring only, never used for selection (the reported model is the last epoch's)."
                                  ))
        elif r.is_network:
            inner.append(w.note(f"{r.label}: no per-epoch history.csv to plot."))
        else:
            chosen = ", ".join(f"{k} = {v}" for k, v in (r.config.get("chosen") or {}).items()) or "?"
            n_pca = r.config.get("n_components", "?")
            inner.append(("p", f"{r.method} trains no epochs, so there are no training curves; chosen on the source "
                               f"by speaker-grouped cross-validation: {chosen}, {n_pca} PCA components (grid in "
                               "history.csv)."))
        blocks.append(("details", f"{r.method}, preset {r.preset}, seed {r.seed}: WAR {_pct(r.metrics['war'])}%, "
                                  f"UAR {_pct(r.metrics['uar'])}%", inner))
    return blocks


def build_report(selection: Selection, out: Path, tsne: bool = True, progress: Progress | None = None,
                 run_figures: bool = True) -> ReportResult:
    """Write the report folder: figures/*.png, report.md, index.html (``run_figures``: each run's own figures)."""
    out = Path(out)
    prepare_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / MARKER, {"sercross_version": __version__, "selection": selection.description})
    w = _Writer(out, progress)
    runs = selection.runs
    body: list[tuple] = []
    schemes: dict[tuple[str, str, tuple[str, ...]], list[Run]] = {}
    for r in runs:
        schemes.setdefault((r.source, r.target, r.classes), []).append(r)
    for scheme_runs in schemes.values():
        body += _scheme_section(w, scheme_runs, selection.single, tsne, aggregate=len(schemes) > 1,
                                run_figures=run_figures)

    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head: list[tuple] = [
        ("h", 1, f"sercross report: {selection.title}"),
        ("p", f"Generated {created} by sercross {__version__}. Selection: {selection.description}; "
              f"{len(runs)} run(s), {len(schemes)} scheme(s)."),
        ("p", "Target labels are used only to score and to colour t-SNE points; no number here selected a model. "
              "Each run reports its last epoch. WAR, UAR and recalls are in percent; \"a ± b\" is the mean and the "
              "sample standard deviation (ddof = 1) over seeds."
              + (" The benchmark's full protocol, its cross-scheme Average, the paper's published numbers and the "
                 "separate oracle table are in its tables.md." if selection.kind == "benchmark" else "")),
        ("h", 2, "Summary"),
        ("table", SUMMARY_HEADERS, summary_rows(runs), {3, 5, 6}),
    ]
    if w.notes:
        head.append(("p", f"{len(w.notes)} note(s) below say what could not be drawn."))
    if selection.skipped:
        head.append(("h", 3, "Run folders left out"))
        head.append(("table", ["folder", "reason"], [[f"`{p}`", why] for p, why in selection.skipped], set()))
    blocks = head + body
    atomic_write_text(out / "report.md", render_markdown(blocks))
    atomic_write_text(out / "index.html", render_html(f"sercross report: {selection.title}", blocks))
    keep = {p.name for p in w.figures}
    for old in (out / "figures").glob("*.png"):
        if old.name not in keep:
            old.unlink()
    return ReportResult(out, out / "report.md", out / "index.html", w.figures, w.notes, runs)


def default_out_dir(cache: Path, selection: Selection) -> Path:
    return cache / "reports" / selection.name
