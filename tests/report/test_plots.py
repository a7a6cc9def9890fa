"""Figures from plain data: titles, labels, legends, log scales, and valid PNG output (headless Agg)."""

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from sercross.methods.config import LOSS_NAMES
from sercross.report.plots import (
    DPI,
    MONITOR_NOTE,
    SOURCE_GREY,
    Curves,
    TsnePanel,
    plot_confusion,
    plot_recall_bars,
    plot_training_curves,
    plot_tsne,
    png_bytes,
)

CLASSES = ("anger", "fear", "happiness", "neutral", "sadness")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(data: bytes) -> np.ndarray:
    assert data[:8] == PNG_SIGNATURE
    img = mpimg.imread(io.BytesIO(data), format="png")
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    return img


def dashed_levels(ax) -> list[float]:
    """The heights of the horizontal dashed lines drawn on ``ax``."""
    return [float(line.get_ydata()[0]) for line in ax.get_lines() if line.get_linestyle() == "--"]


def texts(fig) -> str:
    """Every string drawn on the figure (titles, labels, tick labels, legends, annotations)."""
    return "\n".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_confusion_figure_shows_counts_recall_and_class_names():
    cm = np.array([[3, 1, 0, 0, 0], [0, 4, 0, 0, 0], [1, 1, 2, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 3]])
    with np.errstate(invalid="ignore"):
        rec = cm / cm.sum(1, keepdims=True)  # the 'neutral' row has no sample: NaN
    fig = plot_confusion(cm, rec, CLASSES, "Confusion on the target — B→C, tlmlda (preset paper, seed 0)")
    s = texts(fig)
    assert "B→C" in s and "tlmlda" in s and "n = 16" in s
    assert all(c in s for c in CLASSES)
    assert "predicted class" in s and "true class" in s and "75%" in s and "–" in s  # NaN row: a dash
    a0, a1 = fig.axes[:2]  # then the two colour bars
    assert [t.get_text() for t in a0.get_yticklabels()] == list(CLASSES)
    assert np.array_equal(a0.images[0].get_array(), cm)
    assert np.allclose(a1.images[0].get_array(), np.nan_to_num(rec))
    assert "chance level 1/5 = 20%" in a1.get_title() and "chance" not in a0.get_title()
    assert dashed_levels(fig.axes[3]) == [0.2] and dashed_levels(fig.axes[2]) == []  # on the recall colour bar
    read_png(png_bytes(fig))


def test_averaged_confusion_shows_decimals_and_seed_count():
    cm = np.array([[1.5, 0.5], [0.0, 2.0]])
    fig = plot_confusion(cm, cm / cm.sum(1, keepdims=True), ("a", "b"), "mean", averaged_over=2)
    s = texts(fig)
    assert "mean counts over 2 seeds" in s and "1.5" in s and "n = 4" in s


def test_tsne_figure_has_one_panel_per_method_source_grey_and_class_legend(rng):
    panels = [
        TsnePanel(f"{m} (target WAR 50.00%)", rng.normal(size=(30, 2)), rng.normal(size=(20, 2)), np.arange(20) % 5)
        for m in ("only_cls", "tlmlda_m", "tlmlda")
    ]
    fig = plot_tsne(panels, CLASSES, "t-SNE of the learned 256-d features — B→C, preset paper, seed 0")
    assert len(fig.axes) == 3
    s = texts(fig)
    assert "B→C" in s and "only_cls" in s and "tlmlda_m" in s and "t-SNE 1" in s and "t-SNE 2" in s
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["source (all classes)"] + [f"target: {c}" for c in CLASSES]
    first = fig.axes[0].collections
    assert len(first) == 1 + 5  # source, then one scatter per target class
    grey = np.array([int(SOURCE_GREY[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    assert np.allclose(first[0].get_facecolor()[0][:3], grey)
    assert len(first[0].get_offsets()) == 30 and sum(len(c.get_offsets()) for c in first[1:]) == 20
    read_png(png_bytes(fig))


def _curves(n: int = 12, inactive: tuple[str, ...] = ()) -> Curves:
    ep = np.arange(1, n + 1, dtype=float)
    active = [x for x in LOSS_NAMES if x not in inactive]
    loss = {x: 10.0 / ep * (k + 1) for k, x in enumerate(active)}
    weight = {x: np.full(n, 0.2) for x in active}
    return Curves(ep, loss, weight, {x: loss[x] * 0.2 for x in active}, sum(loss.values()) * 0.2,
                  np.linspace(0.2, 0.9, n), np.linspace(0.2, 0.5, n), inactive)


def check_readable_in_the_report(fig) -> None:
    """Shown unscaled in the report's 1216-px column, with tick labels of at least 9 pt."""
    img = read_png(png_bytes(fig))  # draws: the tick labels exist from here on
    assert img.shape[1] <= 1216 and fig.get_figwidth() * DPI <= 1216
    sizes = [t.get_fontsize() for ax in fig.axes if ax.axison for t in
             ax.get_xticklabels(which="both") + ax.get_yticklabels(which="both") if t.get_text()]
    assert sizes and min(sizes) >= 9


def test_training_curves_log_scales_five_terms_and_monitor_label():
    fig = plot_training_curves(_curves(), "Training curves — B→C, tlmlda (preset paper, seed 0)")
    ax_l, ax_w, ax_e, ax_a = fig.axes
    assert ax_l.get_yscale() == "log" and ax_e.get_yscale() == "log" and ax_a.get_yscale() == "linear"
    assert len(ax_l.get_lines()) == 5 and len(ax_w.get_lines()) == 5 and len(ax_e.get_lines()) == 6  # + total
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)
    s = texts(fig)
    assert MONITOR_NOTE in s and "B→C" in s and "tlmlda" in s
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:5] == ["L_S (source reconstruction)", "L_T (target reconstruction)",
                          "L_y (source classification)", "MMD", "LMMD"]
    assert np.allclose(ax_a.get_lines()[0].get_ydata(), 100 * np.linspace(0.2, 0.9, 12))
    check_readable_in_the_report(fig)


def test_training_curves_name_the_terms_a_method_lacks_and_mask_non_positive_values():
    c = _curves(3, inactive=("L_S", "L_T", "MMD", "LMMD"))
    c.loss["L_y"][1] = 0.0  # cannot be drawn on a log axis
    fig = plot_training_curves(c, "only_cls")
    assert "not in this method: L_S, L_T, MMD, LMMD" in texts(fig)
    y = fig.axes[0].get_lines()[0].get_ydata()
    assert np.isnan(y[1]) and np.isfinite(y[[0, 2]]).all()
    read_png(png_bytes(fig))


def test_gradient_shares_name_the_terms_that_stay_at_zero():
    c = _curves(4)
    nan = np.full(4, np.nan)
    c.grad_share = {"L_S": np.array([0.5, nan[0], 0.4, 0.3]), "L_T": np.array([0.5, nan[0], 0.6, 0.7]),
                    "L_y": np.array([0.001, nan[0], 0.0, 0.0]), "MMD": np.zeros(4)}
    fig = plot_training_curves(c, "t")
    assert len(fig.axes) == 6 and "below 1 % throughout: L_y, MMD" in texts(fig)
    assert [t.get_text() for t in fig.axes[5].get_legend().get_texts()][-1] == "total Σ w_i·L_i"  # a free panel
    assert len(fig.axes[4].get_lines()) == 4 and fig.axes[4].get_ylabel() == "% of the summed gradient norms"
    check_readable_in_the_report(fig)


def test_the_monitor_of_a_run_ending_with_adabn_says_it_saw_the_network_before_it():
    c = _curves(4)
    assert "AdaBN" not in texts(plot_training_curves(c, "t"))
    c.monitor_before_adabn = True
    assert "before its final AdaBN step" in texts(plot_training_curves(c, "t"))


def test_training_curves_without_monitor_column():
    c = _curves(4)
    c.target_war_monitor = None
    fig = plot_training_curves(c, "t")
    assert len(fig.axes[3].get_lines()) == 1
    read_png(png_bytes(fig))


def test_recall_bars_side_by_side_with_sd_whiskers():
    mean = np.array([[0.5, 0.6, 0.7, 0.1, 0.9], [0.4, np.nan, 0.2, 0.3, 0.8]])
    sd = np.array([[0.1] * 5, [np.nan] * 5])
    fig = plot_recall_bars(["tlmlda", "only_cls"], CLASSES, mean, sd, [3, 1], [0.56, 0.43],
                           "Per-class recall on the target — B→C, preset paper (mean over seeds)")
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 10
    assert np.allclose([b.get_height() for b in bars[:5]], 100 * mean[0])
    assert bars[6].get_height() == 0  # NaN (class absent) drawn as an empty bar
    assert bars[0].get_x() < bars[5].get_x() < bars[1].get_x()  # methods side by side within a class
    assert bars[0].get_facecolor() != bars[5].get_facecolor()  # each method its own colour
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["tlmlda (UAR 56.0%, 3 seeds)", "only_cls (UAR 43.0%, 1 seed)", "chance level 1/5 = 20%"]
    assert dashed_levels(ax) == [20.0] and "chance" in [t.get_text() for t in ax.texts]  # labelled on the line
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    assert "recall" in ax.get_ylabel() and "B→C" in texts(fig)
    read_png(png_bytes(fig))


def test_recall_of_many_methods_is_a_readable_heatmap():
    rng = np.random.default_rng(0)
    methods = [f"method{i}" for i in range(12)]
    mean, sd = rng.random((12, 5)), rng.random((12, 5)) / 10
    mean[3, 2] = np.nan
    fig = plot_recall_bars(methods, CLASSES, mean, sd, [5] * 11 + [1], rng.random(12), "many methods")
    ax = fig.axes[0]
    assert not ax.patches and len(ax.images) == 1  # no bars: one row per method, one column per class
    assert np.allclose(ax.images[0].get_array(), np.nan_to_num(mean))
    cells = [t.get_text() for t in ax.texts]
    assert f"{100 * mean[0, 0]:.0f} ± {100 * sd[0, 0]:.0f}" == cells[0] and "–" in cells
    assert "±" not in cells[-1]  # one seed: no spread to show
    assert [t.get_text().split(" (")[0] for t in ax.get_yticklabels()] == methods
    assert "chance level 1/5 = 20%" in ax.get_xlabel() and dashed_levels(fig.axes[1]) == [0.2]  # on the colour bar
    read_png(png_bytes(fig))


@pytest.mark.parametrize("k", [2, 9])
def test_confusion_scales_with_class_count(k):
    cm = np.eye(k, dtype=int) * 3
    fig = plot_confusion(cm, np.eye(k), [f"class{i}" for i in range(k)], "t")
    img = read_png(png_bytes(fig))
    assert img.shape[1] > img.shape[0]
