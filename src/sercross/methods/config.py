"""Typed, frozen configuration: training presets, the paper's per-scheme alpha, and method definitions.

Every method sercross can train is defined here, in one place (see ``METHODS``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from sercross.infra import SercrossError

LOSS_NAMES = ("L_S", "L_T", "L_y", "MMD", "LMMD")
# Terms beyond TLMLDA's five: Deep CORAL, DANN's domain classifier, and the diversity of the target
# predictions (TLMLDA+).
EXTRA_TERMS = ("CORAL", "ADV", "DIV")
TERM_NAMES = LOSS_NAMES + EXTRA_TERMS
ADAPTATION_TERMS = ("MMD", "LMMD", "CORAL", "ADV")  # scaled by lambda and by the ramp
TARGET_TERMS = ("L_T", *ADAPTATION_TERMS, "DIV")  # terms that need the target batch

# Paper, section 3.2: alpha_{S,T,y,MMD,LMMD} for each scheme.
PAPER_ALPHA: dict[tuple[str, str], tuple[float, ...]] = {
    ("enterface", "berlin"): (1, 1, 3, 1, 1),
    ("berlin", "enterface"): (0.1, 0.1, 2, 1, 0.1),
    ("enterface", "casia"): (1, 1, 5, 2, 1),
    ("casia", "enterface"): (1, 1, 2, 1, 0.1),
    ("berlin", "casia"): (0.1, 0.1, 5, 1, 0.1),
    ("casia", "berlin"): (0.1, 0.1, 5, 2, 0.1),
}
# For schemes the paper did not run, and for TLMLDA+ on every scheme: the classifier term leads, as in each of
# the paper's six settings. Meant as their element-wise median, which it is except for LMMD (median 0.1); the
# slip was found after the committed results and is kept so that they stay reproducible (README, TLMLDA+ item 7).
DEFAULT_ALPHA: tuple[float, ...] = (0.55, 0.55, 4.0, 1.0, 0.55)


def alpha_for(source: str, target: str) -> tuple[float, ...]:
    return tuple(float(a) for a in PAPER_ALPHA.get((source, target), DEFAULT_ALPHA))


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run besides data and seed."""

    epochs: int = 500
    lr: float = 1e-5
    lr_schedule: str = "constant"  # "constant" (paper) | "cosine": lr * (1 + cos(pi * progress)) / 2 per step
    batch_size: int = 100
    weight_decay: float = 5e-4  # paper: silent; the authors' public code uses 5e-4
    noise_std: float = 1.0  # paper: N(0, 1) noise on the inputs
    dropout: float = 0.5  # paper: silent; the authors' public code uses 0.5
    recon_loss: str = "sse"  # paper eq. 1: squared error summed over features (mean over the batch)
    weight_update: str = "step"  # dynamic weights from this step's losses, or "epoch": previous epoch's means
    kernel_num: int = 5
    kernel_mul: float = 2.0
    encoder_sizes: tuple[int, ...] = (1200, 900, 500)
    dnn_sizes: tuple[int, ...] = (600, 256)
    # Options of the methods beyond the paper (off in the paper's protocol); see METHODS and the README.
    bn_mode: str = "separate"  # batch-norm statistics per domain ("separate") or over source+target ("joint")
    adabn: bool = False  # at the end, replace batch-norm running statistics by the unlabelled target's (AdaBN)
    ramp: bool = False  # scale adaptation terms by 2/(1+exp(-10p)) - 1, p = training progress (DANN's schedule)
    adapt_weight: float = 1.0  # lambda of the DA baselines' adaptation term
    norm_momentum: float = 0.9  # running mean of each loss for the "normalized" weighting
    pseudo_threshold: float = 0.0  # LMMD: target samples whose top softmax probability is below it get no weight
    grad_share_every: int = 10  # epochs between measurements of each term's share of the gradient (0 = never)
    monitor_target: bool = True  # per-epoch target WAR in the history, for monitoring only
    threads: int = 0  # torch intra-op threads; 0 = all cores

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    # The paper's protocol (section 3.2); choices it leaves open are documented in the README.
    "paper": TrainConfig(),
    # 25x fewer steps than "paper" (20 epochs instead of 500) with a larger, cosine-decayed learning rate;
    # chosen among 6 candidates by reverse validation on the source, never by target labels
    # (bench/fast_preset_choice.md), and compared with "paper" in bench/presets.md.
    "fast": TrainConfig(epochs=20, lr=1e-3, lr_schedule="cosine"),
    # Only for `sercross demo` on its tiny synthetic corpora: a higher learning rate so that a few
    # hundred steps suffice. Not a recipe for real corpora.
    "demo": TrainConfig(epochs=60, lr=1e-3, batch_size=32),
}


def preset_tag(preset: str, epochs: int | None = None, lr: float | None = None, batch_size: int | None = None) -> str:
    """The run-folder tag: the preset name, plus the overrides (same format as ``sercross train``)."""
    parts = [preset] + [f"{k}{v:g}" for k, v in (("e", epochs), ("lr", lr), ("b", batch_size)) if v is not None]
    return "_".join(parts)


def get_preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        near = name.strip().lower()
        raise SercrossError(f"unknown preset {name!r}" + (f": did you mean {near!r}?" if near in PRESETS else ""),
                            hint=f"choose one of: {', '.join(PRESETS)}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "lr" in overrides and not overrides["lr"] > 0:
        raise SercrossError(f"--lr {overrides['lr']:g} would not train",
                            hint="give a positive learning rate, e.g. --lr 1e-3")
    return replace(PRESETS[name], **overrides)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    terms: tuple[bool, ...] = (True, True, True, True, True)  # which of TERM_NAMES take part (missing = off)
    # "dynamic_alpha" (eq. 6) | "dynamic" (alpha = 1) | "alpha" (w_i = alpha_i) | "unit" (w_i = 1)
    # | "lambda" (L_y + adapt_weight * adaptation terms)
    # | "normalized" (L_S, L_T, L_y: w_i = alpha_i / running mean of L_i; other terms: w_i = alpha_i)
    weighting: str = "dynamic_alpha"
    kind: str = "network"  # "network" | "pca_svm"
    group: str = "paper"  # "paper": TLMLDA, its ablations and baselines | "da": standard DA baselines | "ours"
    overrides: dict = field(default_factory=dict)  # TrainConfig fields this method sets
    alpha: tuple[float, ...] | None = None  # fixed alpha for every scheme (None: the paper's per scheme)
    input_norm: str = "corpus"  # "corpus": the pair's per-corpus scaling | "speaker": pairs.speaker_normalize

    @property
    def active(self) -> tuple[bool, ...]:
        return tuple(self.terms) + (False,) * (len(TERM_NAMES) - len(self.terms))

    @property
    def fingerprint(self) -> dict:
        """What defines the method besides the training config (stored with each run, JSON-ready)."""
        doc = {"terms": list(self.active), "weighting": self.weighting,
               "alpha": list(self.alpha) if self.alpha else None}
        if self.input_norm != "corpus":  # absent for the default, so runs made before the option stay valid
            doc["input_norm"] = self.input_norm
        return doc

    def configure(self, config: TrainConfig) -> TrainConfig:
        """The preset's config with this method's own settings applied."""
        return replace(config, **self.overrides) if self.overrides else config


# TLMLDA+'s options; each can be switched on alone (they are TrainConfig fields or the weighting).
PLUS_OPTIONS = {"ramp": True, "bn_mode": "joint", "adabn": True}


def _plus_family() -> list[MethodSpec]:
    """TLMLDA+ (all options) and one ablation per option, so each option's effect is measured."""
    desc = ("TLMLDA+ (ours): speaker-normalised inputs; TLMLDA's five terms; reconstruction and classification "
            "losses divided by their running means (w_i L_i ~ alpha_i, so the classifier is not starved), MMD "
            "and LMMD with fixed weights alpha_i ramped up, a diversity term on the target predictions, "
            "batch-norm over source+target batches, AdaBN on the target at the end; one alpha for every scheme")
    terms = (True, True, True, True, True, False, False, True)
    full = MethodSpec("tlmlda_plus", desc, terms=terms, weighting="normalized", group="ours",
                      overrides=dict(PLUS_OPTIONS), alpha=DEFAULT_ALPHA, input_norm="speaker")
    without = {
        "div": ("no diversity term", {"terms": terms[:-1] + (False,)}, {}),
        "norm": ("the paper's dynamic weights instead of normalised ones", {"weighting": "dynamic_alpha"}, {}),
        "ramp": ("no ramp-up", {}, {"ramp": False}),
        "joint": ("batch-norm per domain", {}, {"bn_mode": "separate"}),
        "adabn": ("no AdaBN", {}, {"adabn": False}),
        "spk": ("per-corpus scaling instead of speaker normalisation", {"input_norm": "corpus"}, {}),
    }
    ablations = [
        replace(full, name=f"tlmlda_plus_no_{key}", description=f"ablation of TLMLDA+: {what}",
                group="ours_ablation", overrides={**full.overrides, **over}, **spec)
        for key, (what, spec, over) in without.items()
    ]
    return [full, *ablations]


METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        MethodSpec("tlmlda", "TLMLDA: all five losses, w_i = alpha_i L_i / sum_j L_j (paper eq. 5-6)"),
        MethodSpec("tlmlda_w", "ablation TLMLDA_w: dynamic weights without alpha (w_i = L_i / sum_j L_j)",
                   weighting="dynamic"),
        MethodSpec("tlmlda_alpha", "ablation TLMLDA_alpha: fixed weights w_i = alpha_i, no dynamic term",
                   weighting="alpha"),
        MethodSpec("tlmlda_l", "ablation TLMLDA_L: LMMD only (no global MMD term)",
                   terms=(True, True, True, False, True)),
        MethodSpec("tlmlda_m", "ablation TLMLDA_M: MMD only (no LMMD term)",
                   terms=(True, True, True, True, False)),
        MethodSpec("only_cls", "Only_cls: the source classification loss alone, no adaptation (paper Fig. 2)",
                   terms=(False, False, True, False, False), weighting="unit"),
        MethodSpec("pca_svm", "PCA + linear SVM on the source; PCA size and C chosen by leave-one-speaker-out "
                   "on the source only", kind="pca_svm"),
        # Standard domain-adaptation baselines on the same network (encoder + DNN + classifier, no decoder terms).
        MethodSpec("dan", "DAN (Long et al. 2015): L_y + lambda * multi-kernel MMD, lambda ramped up",
                   terms=(False, False, True, True, False), weighting="lambda", group="da",
                   overrides={"ramp": True}),
        MethodSpec("dsan", "DSAN (Zhu et al. 2021): L_y + lambda * LMMD, lambda ramped up",
                   terms=(False, False, True, False, True), weighting="lambda", group="da",
                   overrides={"ramp": True}),
        MethodSpec("coral", "Deep CORAL (Sun & Saenko 2016): L_y + lambda * CORAL",
                   terms=(False, False, True, False, False, True), weighting="lambda", group="da"),
        MethodSpec("dann", "DANN (Ganin et al. 2016): L_y + domain classifier through gradient reversal, "
                   "coefficient ramped up", terms=(False, False, True, False, False, False, True),
                   weighting="lambda", group="da", overrides={"ramp": True}),
        # Ours and its ablations, each without one option (README "TLMLDA+").
        *_plus_family(),
    )
}
# The baselines on speaker-normalised inputs: how much of TLMLDA+'s gain the normalisation alone brings, and
# whether a standard adaptation term still helps once the inputs are normalised.
METHODS.update({
    f"{base}_spk": replace(METHODS[base], name=f"{base}_spk", group="spk_baseline", input_norm="speaker",
                           description=f"{METHODS[base].description}; on speaker-normalised inputs")
    for base in ("only_cls", "pca_svm", "dan", "dsan", "coral", "dann")
})
PAPER_METHODS = tuple(m for m, spec in METHODS.items() if spec.group == "paper")


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        near = name.strip().lower().replace("-", "_")
        raise SercrossError(f"unknown method {name!r}" + (f": did you mean {near!r}?" if near in METHODS else ""),
                            hint=f"choose one of: {', '.join(METHODS)}")
    return METHODS[name]
