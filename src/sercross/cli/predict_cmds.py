"""``sercross predict``: a trained run applied to a folder of new (unlabelled) recordings."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from sercross.cli.common import err, out, settings
from sercross.cli.options import JobsOpt, PredictManifestOpt, PredictOutOpt, PredictRootOpt, RunArg
from sercross.infra import SercrossError


def predict(
    ctx: typer.Context,
    run: RunArg = None,
    root: PredictRootOpt = None,
    manifest: PredictManifestOpt = None,
    out_file: PredictOutOpt = None,
    jobs: JobsOpt = None,
) -> None:
    """Apply a trained run to new recordings: each file's predicted class and the probability of each class.

    RUN is a run folder (<cache>/runs/…, e.g. the run_dir of a row of a benchmark's results.csv). Every audio file
    under --root is used (speakers: the first folder level), or the files a manifest selects (--manifest: a corpus
    name or manifest file, e.g. csv for a labels.csv table; its labels, if any, are only compared with the
    predictions). Features are scaled as the run's target was: the recordings are meant to come from its target
    domain.
    """
    from sercross.cli.extract_cmds import run_extraction
    from sercross.corpora import load_manifest
    from sercross.experiments import predict_folder

    s = settings(ctx)
    if run is None or root is None:
        raise SercrossError("give a run folder and the folder of recordings",
                            hint="e.g. `sercross predict ~/.cache/sercross/runs/berlin__casia/tlmlda/paper-seed0 "
                            "--root ~/new-recordings`")
    if not root.is_dir():
        raise SercrossError(f"{root} is not a folder", hint="--root is the folder of the recordings to predict")
    chosen = load_manifest(manifest, s.cache) if manifest else None

    def extract(m, folder: Path, cache: Path):
        from dataclasses import replace

        return run_extraction(replace(s, cache=cache), m, folder, _feature_set(run), jobs)

    result = predict_folder(s.cache, run, root, extract, chosen, out_file)
    t = Table(title=f"predictions of {escape(str(run))}", header_style="bold")
    t.add_column("predicted class")
    t.add_column("files", justify="right")
    for c, k in result.counts.items():
        t.add_row(escape(c), str(k))
    out.print(t)
    if result.speaker_groups is not None:
        out.print(f"speaker normalisation over {result.speaker_groups} speaker group(s) of the new files",
                  highlight=False)
    if result.metrics is not None:
        m = result.metrics
        out.print(f"the manifest labels {m['n']} of the files: WAR {100 * m['war']:.2f} %, UAR {100 * m['uar']:.2f} % "
                  "on them (the labels were not used to predict)", highlight=False)
    out.print(f"{result.n} predictions (file, speaker, predicted class, probability of each class) written to "
              f"{result.out}", highlight=False)


def _feature_set(run: Path) -> str:
    from sercross.experiments import read_run_config

    try:
        return read_run_config(run)["feature_set"]
    except SercrossError:
        err.print(f"[red]no run in {escape(str(run))}[/]")
        raise
