"""What the commands that train show of a run: progress while it trains, then its metrics and facts."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from sercross.cli.common import PlainLog, err, out
from sercross.infra import confusion_table, metrics_table, progress_bar

_WHAT = {"pca_svm": "PCA + SVM, source cross-validation", "shallow": "a skada adapter and a logistic regression"}


def train_with_progress(cache, p, spec, tag, cfg, seed, recipe: dict | None = None) -> Path:
    """train_run with a progress bar over the epochs of a network (plain lines without a terminal), a spinner
    for the other methods; returns the run folder."""
    from sercross.experiments import train_run

    desc = f"train {spec.name} {p.key.label} seed {seed}"
    if spec.kind != "network":
        with err.status(f"{desc} ({_WHAT.get(spec.kind, spec.kind)})"):
            return train_run(cache, p, spec, tag, cfg, seed, recipe=recipe)
    epochs = spec.configure(cfg).epochs
    log = None if err.is_terminal else PlainLog(epochs)  # a log file or a pipe: plain lines, not a redrawn bar
    with progress_bar(err, desc) as progress:
        task = progress.add_task(desc, total=epochs, rate="")

        def on_epoch(epoch: int, row: dict) -> None:
            info = f"L_y {row['loss_L_y']:.3f} src acc {row['source_train_acc']:.2f}"
            progress.update(task, advance=1, rate=info)
            if log is not None and log.due(epoch):
                err.print(f"{escape(desc)}: epoch {epoch}/{epochs}, {info}", highlight=False)

        return train_run(cache, p, spec, tag, cfg, seed, on_epoch=on_epoch, recipe=recipe)


def show_metrics(rdir: Path) -> None:
    """A run's metrics (or, on an unlabelled target, its predicted classes), warnings and facts."""
    from sercross.experiments.evaluation import run_warnings
    from sercross.infra import read_json

    m = read_json(rdir / "metrics.json")
    classes = m.get("classes") or []
    chance = f"; {len(classes)} classes, chance {100 / len(classes):.2f} %" if classes else ""
    title = f"{m['scheme']}  {m['method']}  {m['preset']}  seed {m['seed']}  (last epoch{chance})"
    if m.get("labelled", True):
        out.print(metrics_table(m, escape(title)))
        out.print(confusion_table(m))
    else:
        counts = Table(title=escape(title), header_style="bold")
        counts.add_column("predicted class")
        counts.add_column("target utterances", justify="right")
        for c, k in (m.get("predicted") or {}).items():
            counts.add_row(c, str(k))
        out.print(counts)
        out.print(f"[yellow]note[/]: {escape(m.get('note', 'the target has no labels'))}", highlight=False)
    for w in run_warnings(rdir):
        err.print(f"[yellow]warning[/]: {escape(w)}", highlight=False)
    cfg = read_json(rdir / "config.json")
    facts = [f"trained in {cfg['train_seconds']:.0f} s"] if cfg.get("train_seconds") is not None else []
    if cfg.get("peak_rss_mb"):
        facts.append(f"peak memory {cfg['peak_rss_mb']:.0f} MB")
    if cfg.get("reverse_validation_uar") is not None:
        facts.append(f"reverse-validation UAR {100 * cfg['reverse_validation_uar']:.2f} % (no target label)")
    if facts:
        out.print("; ".join(facts), highlight=False)
    groups = cfg.get("speaker_groups")
    if groups:
        out.print(f"speaker normalisation over {groups['source']} source and {groups['target']} target speaker(s)",
                  highlight=False)
        for side, n in groups.items():
            if n < 2:
                out.print(f"[yellow]warning:[/] the {side} corpus has no speaker information, so its inputs were "
                          "only scaled per corpus (give its manifest a speaker rule or column)")
    out.print(f"run folder: {rdir}", highlight=False)


def show_incorpus(rdir: Path) -> None:
    """An in-corpus reference's stored metrics: WAR and UAR as the mean over its folds, each fold, the pooled
    confusion (it is scored when made, by `sercross incorpus` or `benchmark --in-corpus`)."""
    from sercross.infra import read_json

    m = read_json(rdir / "metrics.json")
    title = (f"{m['scheme']}  {m['method']}  {m['preset']}  seed {m['seed']}  ({m['folds_protocol']}; "
             f"{len(m['classes'])} classes, chance {100 / len(m['classes']):.2f} %)")
    t = Table(title=escape(title), header_style="bold")
    for col in ("fold", "held-out speakers", "utterances", "WAR %", "UAR %"):
        t.add_column(col, justify="left" if col == "held-out speakers" else "right")
    for f in m["per_fold"]:
        t.add_row(str(f["fold"]), escape(", ".join(f["test_speakers"])), str(f["n_test"]), f"{100 * f['war']:.2f}",
                  f"{100 * f['uar']:.2f}")
    t.add_row("mean", "", str(m["n"]), f"{100 * m['war']:.2f}", f"{100 * m['uar']:.2f}", style="bold")
    out.print(t)
    out.print(confusion_table(m["pooled"]))
    out.print(f"in-corpus reference: WAR and UAR are the mean over folds, the confusion pools every held-out "
              f"prediction; run folder: {rdir}", highlight=False)
