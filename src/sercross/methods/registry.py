"""Method definitions: what each method sercross can train is, in one place (``METHODS``).

A :class:`MethodSpec` is a frozen, validated value; the estimator takes it directly, so a variant is tried by
building one (``dataclasses.replace(METHODS["tlmlda_plus"], name="my_variant", terms=...)``) without
touching the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from sercross.infra import SercrossError, did_you_mean
from sercross.methods.config import DEFAULT_ALPHA, TERM_NAMES, TrainConfig
from sercross.methods.validation import check_bool, check_choice, check_names, check_number
from sercross.methods.weighting import WEIGHTINGS

KINDS = ("network", "pca_svm", "shallow", "auto")
# "paper": TLMLDA, its ablations and baselines | "da": standard DA baselines | "ours": TLMLDA+ |
# "ours_ablation": TLMLDA+ without one option | "spk_baseline": a baseline on speaker-normalised inputs |
# "shallow": skada's shallow domain adaptation + logistic regression (methods/shallow.py) |
# "selection": auto, a label-free choice among candidates (sercross.selection)
GROUPS = ("paper", "da", "ours", "ours_ablation", "spk_baseline", "shallow", "selection")
# The skada adapters of the shallow methods (methods/shallow.ADAPTERS; kept here so that listing methods never
# imports scikit-learn; a test checks that both agree).
SHALLOW_ADAPTERS = ("none", "coral", "subspace", "linear_ot", "kmm", "ot_label_prop")
INPUT_NORMS = ("corpus", "speaker")  # see experiments.pairs.model_inputs
# The terms the "normalized" weighting divides by their running means (weighting.normalized says why).
NORMALIZED_TERMS = ("L_S", "L_T", "L_y")

# Keys added to MethodSpec.fingerprint after runs were first stored, with the value every earlier run had: a
# stored fingerprint without the key means this value (experiments.run_status.run_state).
ADDED_SPEC_KEYS: dict[str, object] = {"normalized_terms": list(NORMALIZED_TERMS), "discriminator_width": 128}


@dataclass(frozen=True)
class MethodSpec:
    name: str
    description: str
    terms: tuple[bool, ...] = (True, True, True, True, True)  # which of TERM_NAMES take part (missing = off)
    weighting: str = "dynamic_alpha"  # a name in weighting.WEIGHTINGS
    kind: str = "network"  # "network" | "pca_svm"
    group: str = "paper"  # one of GROUPS
    overrides: dict = field(default_factory=dict)  # TrainConfig fields this method sets
    alpha: tuple[float, ...] | None = None  # fixed alpha for every scheme (None: the paper's per scheme)
    input_norm: str = "corpus"  # "corpus": the pair's per-corpus scaling | "speaker": pairs.speaker_normalize
    normalized_terms: tuple[str, ...] = NORMALIZED_TERMS  # what the "normalized" weighting divides
    discriminator_width: int = 128  # hidden units of DANN's domain classifier (the ADV term)
    adapter: str = "none"  # kind "shallow": the skada adapter before the logistic regression
    # False: the fitted model does not depend on the seed, so one run (seed 0) serves every seed of a grid.
    seeded: bool = True

    def __post_init__(self) -> None:
        for name in ("terms", "alpha", "normalized_terms"):  # read back from JSON as lists
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if not isinstance(self.name, str) or not self.name:
            raise SercrossError(f"MethodSpec.name = {self.name!r} is not a name", hint="give a non-empty string")
        own = f"MethodSpec {self.name!r}"
        check_choice(own, "weighting", self.weighting, WEIGHTINGS)
        check_choice(own, "kind", self.kind, KINDS)
        check_choice(own, "group", self.group, GROUPS)
        check_choice(own, "input_norm", self.input_norm, INPUT_NORMS)
        check_choice(own, "adapter", self.adapter, SHALLOW_ADAPTERS)
        check_names(own, "normalized_terms", self.normalized_terms, TERM_NAMES)
        check_number(own, "discriminator_width", self.discriminator_width, integer=True, low=1)
        check_bool(own, "seeded", self.seeded)
        if not isinstance(self.terms, tuple) or not 1 <= len(self.terms) <= len(TERM_NAMES):
            raise SercrossError(f"{own}.terms = {self.terms!r} is not one flag per term",
                                hint=f"give up to {len(TERM_NAMES)} flags, for {', '.join(TERM_NAMES)} in order")
        for on in self.terms:
            check_bool(own, "terms", on)
        if self.alpha is not None:
            check_number(own, "len(alpha)", len(self.alpha), integer=True, low=1, high=len(TERM_NAMES))
            for a in self.alpha:
                check_number(own, "alpha", a, low=0)
        if not isinstance(self.overrides, dict):
            raise SercrossError(f"{own}.overrides = {self.overrides!r} is not a dict",
                                hint="give TrainConfig settings, e.g. {'ramp': True}")
        names = [f.name for f in fields(TrainConfig)]
        for key in self.overrides:
            check_choice(own, "overrides", key, names)
        replace(TrainConfig(), **self.overrides)  # each value checked as TrainConfig checks it

    @property
    def active(self) -> tuple[bool, ...]:
        return tuple(self.terms) + (False,) * (len(TERM_NAMES) - len(self.terms))

    def uses(self, term: str) -> bool:
        return self.active[TERM_NAMES.index(term)]

    @property
    def fingerprint(self) -> dict:
        """What defines the method besides the training config (stored with each run, JSON-ready).

        Settings that matter to some methods only are left out of the others', so changing them leaves the
        runs of methods they do not affect valid.
        """
        doc = {"terms": list(self.active), "weighting": self.weighting,
               "alpha": list(self.alpha) if self.alpha else None}
        if self.input_norm != "corpus":  # absent for the default, so runs made before the option stay valid
            doc["input_norm"] = self.input_norm
        if self.weighting == "normalized":
            doc["normalized_terms"] = list(self.normalized_terms)
        if self.uses("ADV"):
            doc["discriminator_width"] = self.discriminator_width
        if self.kind == "shallow":
            doc["adapter"] = self.adapter
        return doc

    def configure(self, config: TrainConfig) -> TrainConfig:
        """The preset's config with this method's own settings applied."""
        return replace(config, **self.overrides) if self.overrides else config

    def run_seed(self, seed: int) -> int:
        """The seed a run of this method is trained with: ``seed``, or 0 when the seed does not change it (one run,
        seed 0's, serves every seed)."""
        return int(seed) if self.seeded else 0


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


def _shallow_family() -> list[MethodSpec]:
    """skada's shallow domain adaptation on the pair's features, each followed by the same logistic regression."""
    what = {
        "logreg": ("none", "logistic regression on the standardised source, no adaptation (the shallow Only_cls)"),
        "sk_coral": ("coral", "CORAL (Sun et al. 2016): source covariance aligned to the target's"),
        "sk_subspace": ("subspace", "subspace alignment (Fernando et al. 2013), 50 PCA components"),
        "sk_linear_ot": ("linear_ot", "linear optimal-transport mapping (Flamary et al. 2019) on 100 PCA components"),
        "sk_kmm": ("kmm", "kernel mean matching (Huang et al. 2006): source samples reweighted towards the target"),
        "sk_ot_prop": ("ot_label_prop", "optimal-transport label propagation (Solomon et al. 2014) on 100 PCA "
                                        "components"),
    }
    return [MethodSpec(name, f"{desc}; then logistic regression (skada + scikit-learn)", kind="shallow",
                       group="shallow", adapter=adapter, terms=(False, False, False, False, False),
                       seeded=False)  # deterministic: the seed only names the run
            for name, (adapter, desc) in what.items()]


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
                   "on the source only", kind="pca_svm", seeded=False),
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
        # Ours and its ablations, each without one option (docs/methods.md, "TLMLDA+").
        *_plus_family(),
        *_shallow_family(),
        MethodSpec("auto", "label-free decision: trains the candidates of sercross.selection.DEFAULT_RULE (network "
                   "and shallow methods) and, per pair and seed, averages their target class probabilities (the "
                   "speaker-normalised ones left out where speakers and emotions look confounded), without a "
                   "target label", kind="auto", group="selection", terms=(False, False, False, False, False)),
    )
}
# The baselines on speaker-normalised inputs: how much of TLMLDA+'s gain the normalisation alone brings, and
# whether a standard adaptation term still helps once the inputs are normalised.
METHODS.update({
    f"{base}_spk": replace(METHODS[base], name=f"{base}_spk", group="spk_baseline", input_norm="speaker",
                           description=f"{METHODS[base].description}; on speaker-normalised inputs")
    for base in ("only_cls", "pca_svm", "dan", "dsan", "coral", "dann")
})
METHODS.update({
    f"{m.name}_spk": replace(m, name=f"{m.name}_spk", input_norm="speaker",
                             description=f"{m.description}; on speaker-normalised inputs")
    for m in _shallow_family()
})
PAPER_METHODS = tuple(m for m, spec in METHODS.items() if spec.group == "paper")


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise SercrossError(f"unknown method {name!r}{did_you_mean(name, METHODS)}",
                            hint=f"choose one of: {', '.join(METHODS)}")
    return METHODS[name]
