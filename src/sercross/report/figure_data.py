"""The data of every figure, computed from finished runs and free of plotting (:mod:`.plots` draws).

Confusion counts and recall per class come from ``metrics.json`` as scored; training curves from
``history.csv``; t-SNE inputs from the stored model applied to its pair. Target labels are read only to score
and to colour points.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sercross.experiments import Pair, load_pair
from sercross.infra import SercrossError, read_csv
from sercross.methods import LOSS_NAMES, METHODS, TERM_NAMES
from sercross.report.selection import Run, method_rank

FIGURE2_METHODS = ("only_cls", "tlmlda_m", "tlmlda")  # the paper's Figure 2, left to right
TSNE_SEED = 0

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
    for r in sorted(runs, key=lambda r: (method_rank(r.method), r.seed)):
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
    pair = load_pair(run.cache, run.key, feature_set=run.config["feature_set"])
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
