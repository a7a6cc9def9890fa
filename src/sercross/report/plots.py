"""Matplotlib figures of a report. Every function takes plain data (arrays, names) and returns a Figure.

Nothing here reads the cache or computes a result: :mod:`sercross.report.figure_data` prepares the data. The
figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global state, no display needed),
rendered by the Agg canvas. Wherever recall per class is shown, so is its chance level, 1/(number of classes).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sercross.methods import TERM_NAMES

DPI = 110
# The report's column is 1216 px wide (index.html: 1280 px less padding): a figure of this width shows unscaled.
PAGE_WIDTH = 11.0  # inches, 1210 px at DPI
TICK_PT = 10.0  # tick labels of the training curves: 15 px at DPI
SOURCE_GREY = "#a9a9a9"
MONITOR_NOTE = "monitoring only, never used for selection"
# tab10 without its grey (grey marks the source domain in the t-SNE plots).
_CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf"]
_LOSS_COLOURS = dict(zip(TERM_NAMES, ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                           "#17becf"]))
_LOSS_LABELS = {"L_S": "L_S (source reconstruction)", "L_T": "L_T (target reconstruction)",
                "L_y": "L_y (source classification)", "MMD": "MMD", "LMMD": "LMMD"}


def class_colour(k: int) -> str:
    if k < len(_CLASS_COLOURS):
        return _CLASS_COLOURS[k]
    import matplotlib

    return matplotlib.colormaps["tab20"](k % 20)


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (RGB on white, no timestamp in the metadata).

    One Agg draw (layout included), then Pillow encodes the pixels: ``savefig`` would draw twice with a
    layout engine, which doubles the time of a report.
    """
    from PIL import Image

    fig.set_facecolor("white")
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="png", dpi=(fig.dpi, fig.dpi))
    return buf.getvalue()


def chance_label(k: int) -> str:
    """'chance level 1/5 = 20%': the recall of a class, and the UAR, of guessing or of always answering one class."""
    return f"chance level 1/{k} = {100 / k:.3g}%"


def _mark_chance_on_colourbar(cb, k: int) -> None:
    """A dashed line at 1/k on a 0-1 recall colour bar (its scale is the recall, not its percentage)."""
    cb.ax.axhline(1 / k, color="black", ls="--", lw=2)


# --------------------------------------------------------------------------- confusion


def _annotate_matrix(ax, values: np.ndarray, shown: np.ndarray, fmt, vmax: float) -> None:
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if np.isnan(v):
                ax.text(j, i, "–", ha="center", va="center", color="#666666", fontsize=10)
                continue
            dark = vmax > 0 and shown[i, j] / vmax > 0.55
            ax.text(j, i, fmt(v), ha="center", va="center", fontsize=10, color="white" if dark else "black")


def plot_confusion(
    counts: np.ndarray, recall: np.ndarray, classes: Sequence[str], title: str, averaged_over: int = 1
) -> Figure:
    """Two panels: the confusion counts (rows true, columns predicted) and the row-normalised recall.

    ``counts`` may be a mean over ``averaged_over`` seeds (then shown with one decimal).
    """
    counts, recall = np.asarray(counts, dtype=float), np.asarray(recall, dtype=float)
    k = len(classes)
    side = max(3.6, 0.62 * k + 1.9)
    fig = new_figure(2 * side + 0.8, side + 0.25)
    axes = fig.subplots(1, 2)
    what = f"mean counts over {averaged_over} seeds" if averaged_over > 1 else "counts"
    panels = [
        (axes[0], counts, f"{what} (n = {counts.sum():.0f})", "Blues", max(float(np.nanmax(counts)), 1e-9),
         (lambda v: f"{v:.1f}") if averaged_over > 1 else (lambda v: f"{v:.0f}")),
        (axes[1], recall, f"row-normalised: recall per true class\n({chance_label(k)}, dashed on the colour bar)",
         "Greens", 1.0, lambda v: f"{100 * v:.0f}%"),
    ]
    for ax, values, sub, cmap, vmax, fmt in panels:
        shown = np.nan_to_num(values, nan=0.0)
        im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=vmax)
        _annotate_matrix(ax, values, shown, fmt, vmax)
        ax.set_title(sub, fontsize=10)
        ax.set_xticks(range(k), classes, rotation=35, ha="right")
        ax.set_yticks(range(k), classes)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        if ax is axes[1]:
            cb.set_ticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
            _mark_chance_on_colourbar(cb, k)
    fig.suptitle(title, fontsize=12)
    return fig


# --------------------------------------------------------------------------- t-SNE


@dataclass
class TsnePanel:
    """One panel of the t-SNE figure: a 2-d embedding of source and target learned features."""

    title: str
    source_xy: np.ndarray  # (n_s, 2)
    target_xy: np.ndarray  # (n_t, 2)
    target_labels: np.ndarray  # (n_t,) true class index, only to colour the points


def plot_tsne(panels: Sequence[TsnePanel], classes: Sequence[str], title: str) -> Figure:
    """Panels side by side, source in grey and target coloured by true class (as the paper's Figure 2)."""
    n = max(len(panels), 1)
    width = max(4.3 * n + 0.4, 7.0)
    fig = new_figure(width, 5.0 if n > 1 else 6.4)
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, p in zip(axes, panels):
        ax.scatter(p.source_xy[:, 0], p.source_xy[:, 1], s=10, c=SOURCE_GREY, alpha=0.55, linewidths=0,
                   label="source (all classes)")
        for k, _name in enumerate(classes):
            sel = np.asarray(p.target_labels) == k
            if sel.any():
                ax.scatter(p.target_xy[sel, 0], p.target_xy[sel, 1], s=16, color=class_colour(k),
                           edgecolors="white", linewidths=0.3)
        ax.set_title(p.title, fontsize=11)
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    handles = [Line2D([], [], ls="", marker="o", ms=6, color=SOURCE_GREY, label="source (all classes)")]
    handles += [Line2D([], [], ls="", marker="o", ms=6, color=class_colour(k), label=f"target: {c}")
                for k, c in enumerate(classes)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), int(width // 1.9)), frameon=False)
    fig.suptitle(title if width >= 0.075 * len(title) else title.replace(" — ", "\n", 1), fontsize=12)
    return fig


# --------------------------------------------------------------------------- training curves


@dataclass
class Curves:
    """Per-epoch series of one run's history.csv."""

    epoch: np.ndarray
    loss: Mapping[str, np.ndarray]  # active terms only, by TERM_NAMES name
    weight: Mapping[str, np.ndarray]
    effective: Mapping[str, np.ndarray]
    total: np.ndarray | None
    source_acc: np.ndarray | None
    target_war_monitor: np.ndarray | None
    inactive: tuple[str, ...] = ()
    weighting: str = "dynamic_alpha"  # MethodSpec.weighting: how w_i was set
    grad_share: Mapping[str, np.ndarray] | None = None  # share of the encoder gradient, NaN where not measured
    monitor_before_adabn: bool = False  # the run ends with AdaBN, which the per-epoch monitor never saw


_WEIGHT_TITLES = {
    "dynamic_alpha": "dynamic weights w_i = α_i·L_i / Σ_j L_j",
    "dynamic": "dynamic weights w_i = L_i / Σ_j L_j",
    "alpha": "fixed weights w_i = α_i",
    "unit": "weights w_i, fixed at 1",
    "lambda": "weights: 1 for L_y, λ (ramped) for the adaptation term",
    "normalized": "weights w_i = α_i / running mean of L_i",
}


def _positive(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return np.where(v > 0, v, np.nan)


def plot_training_curves(c: Curves, title: str) -> Figure:
    """Panels: losses, weights, effective terms, accuracies (and the share of the gradient); one colour per term.

    At most :data:`PAGE_WIDTH` wide, so that the report shows it unscaled and its tick labels stay
    :data:`TICK_PT` points: the losses are read off log axes, where a tick label is the number itself.
    """
    shares = {n: v for n, v in (c.grad_share or {}).items() if v is not None and np.isfinite(v).any()}
    fig = new_figure(PAGE_WIDTH, 12.6 if shares else 8.6)
    axes = fig.subplots(3 if shares else 2, 2)
    (ax_l, ax_w), (ax_e, ax_a) = axes[0], axes[1]
    panels = [ax_l, ax_w, ax_e, ax_a]
    if shares:
        _plot_gradient_shares(axes[2][0], c.epoch, shares)
        panels.append(axes[2][0])
    _plot_terms(ax_l, ax_w, ax_e, c)
    _plot_accuracy(ax_a, c)
    for ax in panels:
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("epoch")
        ax.tick_params(which="both", labelsize=TICK_PT)
        if len(c.epoch) and len(c.epoch) <= 10:
            ax.set_xticks(c.epoch)
    handles = [Line2D([], [], color=_LOSS_COLOURS.get(n), label=_LOSS_LABELS.get(n, n)) for n in c.loss]
    if c.total is not None:
        handles.append(Line2D([], [], color="black", lw=2.6, alpha=0.75, label="total Σ w_i·L_i"))
    if shares:  # the sixth panel is free: the legend goes there
        axes[2][1].axis("off")
        axes[2][1].legend(handles=handles, loc="center", frameon=False, fontsize=10)
    else:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), frameon=False,
                   fontsize=9.5)
    fig.suptitle(title, fontsize=12)
    return fig


def _plot_terms(ax_l, ax_w, ax_e, c: Curves) -> None:
    """Losses L_i, weights w_i and effective terms w_i·L_i (with their sum) on log axes."""
    style = {"marker": "o" if len(c.epoch) <= 30 else None, "ms": 3.5}
    for ax, series in ((ax_l, c.loss), (ax_w, c.weight), (ax_e, c.effective)):
        for name, v in series.items():
            ax.plot(c.epoch, _positive(v), color=_LOSS_COLOURS.get(name), **style)
    if c.total is not None:
        ax_e.plot(c.epoch, _positive(c.total), color="black", lw=2.6, alpha=0.75, zorder=1, **style)  # under a term
    for ax in (ax_l, ax_w, ax_e):
        if any(np.isfinite(line.get_ydata()).any() for line in ax.get_lines()):
            ax.set_yscale("log")
    off = f"; not in this method: {', '.join(c.inactive)}" if c.inactive else ""
    ax_l.set_title(f"losses L_i (log scale{off})", fontsize=10)
    ax_w.set_title(_WEIGHT_TITLES.get(c.weighting, "weights w_i") + " (log scale)", fontsize=10)
    ax_e.set_title("effective terms w_i·L_i and their sum (log scale)", fontsize=10)
    ax_l.set_ylabel("L_i (mean over the epoch's steps)")
    ax_w.set_ylabel("w_i (mean over the epoch's steps)")
    ax_e.set_ylabel("w_i · L_i")


def _plot_accuracy(ax, c: Curves) -> None:
    """Source training accuracy and the target WAR monitor (never used for any choice), in %."""
    style = {"marker": "o" if len(c.epoch) <= 30 else None, "ms": 3.5}
    if c.source_acc is not None:
        ax.plot(c.epoch, 100 * np.asarray(c.source_acc, float), color="#1f77b4", label="source training accuracy",
                **style)
    if c.target_war_monitor is not None:
        before = ", network before its final AdaBN step" if c.monitor_before_adabn else ""
        ax.plot(c.epoch, 100 * np.asarray(c.target_war_monitor, float), ls="--", color="#d62728",
                label=f"target WAR ({MONITOR_NOTE}{before})", **style)
    if c.source_acc is not None or c.target_war_monitor is not None:
        ax.legend(fontsize=8.5, loc="lower right")
    ax.set_ylim(-2, 102)
    ax.set_title(f"accuracy per epoch\n(target WAR: {MONITOR_NOTE})", fontsize=10)
    ax.set_ylabel("accuracy (%)")


def _plot_gradient_shares(ax, epoch: np.ndarray, shares: Mapping[str, np.ndarray]) -> None:
    for name, v in shares.items():
        ok = np.isfinite(v)
        ax.plot(epoch[ok], 100 * v[ok], color=_LOSS_COLOURS.get(name), marker="o", ms=3.5)
    # Overlapping lines at 0 % hide which terms they are: name them.
    negligible = [n for n, v in shares.items() if np.nanmax(100 * v) < 1]
    if negligible:
        ax.text(0.02, 0.95, f"below 1 % throughout: {', '.join(negligible)}", transform=ax.transAxes,
                va="top", fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_ylim(-2, 102)
    ax.set_title("share of the encoder gradient per term w_i·L_i\n(measured every few epochs)", fontsize=10)
    ax.set_ylabel("% of the summed gradient norms")


# --------------------------------------------------------------------------- per-class recall


MAX_BARS = 8  # methods per recall figure drawn as bars; more become a heatmap


def plot_recall_bars(
    methods: Sequence[str],
    classes: Sequence[str],
    mean: np.ndarray,
    sd: np.ndarray,
    n_seeds: Sequence[int],
    uar: Sequence[float],
    title: str,
) -> Figure:
    """Grouped bars: one group per class, one bar per method (mean recall over seeds, whiskers ± 1 sd).

    Beyond :data:`MAX_BARS` methods the bars get too thin and their colours repeat, so the figure becomes a
    table-like heatmap instead: one row per method, one column per class, each cell "mean ± sd".
    """
    mean, sd = np.asarray(mean, float), np.asarray(sd, float)
    m, k = mean.shape
    if m > MAX_BARS:
        return _recall_heatmap(methods, classes, mean, sd, n_seeds, uar, title)
    fig = new_figure(max(8.0, 1.0 + k * (0.35 * m + 0.6)), 5.2)
    ax = fig.subplots()
    width = 0.8 / max(m, 1)
    x = np.arange(k)
    for i, method in enumerate(methods):
        pos = x - 0.4 + width * (i + 0.5)
        err = np.where(np.isfinite(sd[i]), sd[i], 0.0) * 100 if n_seeds[i] > 1 else None
        seeds = f"{n_seeds[i]} seed{'s' if n_seeds[i] != 1 else ''}"
        colour = _CLASS_COLOURS[i]  # distinct within the figure: at most MAX_BARS methods get bars
        ax.bar(pos, np.nan_to_num(100 * mean[i]), width, yerr=err, capsize=2.5, color=colour,
               edgecolor=to_rgba("black", 0.4), linewidth=0.5,
               label=f"{method} (UAR {100 * uar[i]:.1f}%, {seeds})")
    # Chance: what guessing, or answering one class always, scores on average per class.
    ax.axhline(100 / k, color="#333333", ls="--", lw=1.3, zorder=3, label=chance_label(k))
    ax.annotate("chance", (1, 100 / k), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", fontsize=9, color="#333333")
    ax.set_xticks(x, classes)
    ax.set_xlabel("true class (target corpus)")
    ax.set_ylabel("recall on the target (%)")
    ax.set_ylim(0, 105)
    ax.grid(True, axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i] == chance_label(k))  # the methods, then chance
    fig.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=9, loc="outside lower center",
               ncol=min(m + 1, 3), frameon=False)
    fig.suptitle(title, fontsize=12)
    return fig


def _recall_heatmap(methods, classes, mean, sd, n_seeds, uar, title) -> Figure:
    m, k = mean.shape
    fig = new_figure(max(7.0, 3.8 + 1.25 * k), 1.6 + 0.36 * m)
    ax = fig.subplots()
    shown = np.nan_to_num(mean, nan=0.0)
    im = ax.imshow(shown, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for i in range(m):
        for j in range(k):
            if np.isnan(mean[i, j]):
                ax.text(j, i, "–", ha="center", va="center", color="#666666", fontsize=9)
                continue
            text = f"{100 * mean[i, j]:.0f}"
            if n_seeds[i] > 1 and np.isfinite(sd[i, j]):
                text += f" ± {100 * sd[i, j]:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if shown[i, j] > 0.55 else "black")
    seeds = [f"{n} seed{'s' if n != 1 else ''}" for n in n_seeds]
    ax.set_yticks(range(m), [f"{meth} (UAR {100 * u:.1f}%, {s})" for meth, u, s in zip(methods, uar, seeds)])
    ax.set_xticks(range(k), classes)
    ax.xaxis.set_ticks_position("top")
    ax.set_xlabel(f"true class (target corpus): recall in %, mean ± sd over seeds; {chance_label(k)}, dashed on "
                  "the colour bar")
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_ticks([0, 0.25, 0.5, 0.75, 1.0], labels=["0%", "25%", "50%", "75%", "100%"])
    _mark_chance_on_colourbar(cb, k)
    fig.suptitle(title, fontsize=12)
    return fig
