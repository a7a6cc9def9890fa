"""The estimator that trains every network method (TLMLDA, its ablations, Only_cls, DAN, DSAN, CORAL, DANN,
TLMLDA+): a method definition, a training config, alpha and a seed in; a fitted network out.

:class:`NetworkEstimator` follows scikit-learn's conventions: ``__init__`` only stores its parameters
(``get_params``/``clone`` work), ``fit`` returns self, learned attributes end in ``_``, randomness comes from
``random_state``. ``fit`` sees source features, source labels and *unlabelled* target features only; target
labels cannot reach it. It leaves torch's global state (thread count, random generator) as it found it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from sercross.infra import SercrossError, usable_cpus
from sercross.methods.config import TERM_NAMES, TrainConfig
from sercross.methods.registry import METHODS, MethodSpec
from sercross.methods.training import Trainer

_DEFAULT_CONFIG = TrainConfig()


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` intra-op threads (0: every usable CPU), then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or usable_cpus())
    try:
        yield
    finally:
        torch.set_num_threads(before)


class NetworkEstimator(ClassifierMixin, BaseEstimator):
    """A network method as an estimator.

    Parameters
    ----------
    method : MethodSpec
        What to train (``METHODS[name]``, or any spec built with ``dataclasses.replace``); must be a network
        method.
    config : TrainConfig
        The training settings; the method's own ``overrides`` are applied on top.
    alpha : tuple of float
        alpha_i of the terms in ``TERM_NAMES`` order (missing ones are 1).
    random_state : int
        Seeds weight init, input noise, batch order and dropout masks.
    """

    def __init__(self, method: MethodSpec = METHODS["tlmlda"], config: TrainConfig = _DEFAULT_CONFIG,
                 alpha: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0), random_state: int = 0):
        self.method = method
        self.config = config
        self.alpha = alpha
        self.random_state = random_state

    def _checked(self) -> tuple[MethodSpec, TrainConfig]:
        spec = self.method
        if not isinstance(spec, MethodSpec):
            raise SercrossError(f"method must be a MethodSpec, got {spec!r}",
                                hint="look a name up with sercross.methods.get_method(name)")
        if spec.kind != "network":
            raise SercrossError(f"method {spec.name!r} is not a network method")
        if not isinstance(self.config, TrainConfig):
            raise SercrossError(f"config must be a TrainConfig, got {self.config!r}")
        if not 1 <= len(self.alpha) <= len(TERM_NAMES):
            raise SercrossError(f"alpha has {len(self.alpha)} values", hint=f"give up to {len(TERM_NAMES)}")
        if not isinstance(self.random_state, (int, np.integer)) or isinstance(self.random_state, bool):
            raise SercrossError(f"random_state must be an integer seed, got {self.random_state!r}")
        return spec, spec.configure(self.config)

    def fit(
        self,
        Xs: np.ndarray,
        ys: np.ndarray,
        Xt: np.ndarray,
        n_classes: int | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> NetworkEstimator:
        """Train on labelled source features ``(Xs, ys)`` and unlabelled target features ``Xt``.

        ``n_classes``: the number of classes (default: ``ys.max() + 1``). ``on_epoch(epoch, row)`` is called
        after each epoch with its history row (it may add monitoring columns).
        """
        spec, cfg = self._checked()
        _check_inputs(Xs, ys, Xt)
        self.n_classes_ = int(n_classes or int(ys.max()) + 1)
        self.classes_ = np.arange(self.n_classes_)
        self.n_features_in_ = Xs.shape[1]
        self.config_ = cfg
        seed = int(self.random_state)
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # weight init, on a forked global generator
            trainer = Trainer(spec, cfg, self.alpha, self.n_classes_, seed, Xs, ys, Xt)
            self.model_, self.history_ = trainer.model, trainer.history  # predict works from on_epoch on
            trainer.run(on_epoch)
        return self

    def _threads(self) -> int:
        return getattr(self, "config_", self.config).threads

    def _forward(self, X: np.ndarray, what: str) -> np.ndarray:
        model = self.model_
        model.eval()
        out = []
        with torch_threads(self._threads()), torch.inference_mode():
            for i in range(0, len(X), 1024):
                xb = torch.from_numpy(np.ascontiguousarray(X[i : i + 1024], np.float32))
                _, feats, logits = model(xb, reconstruct=False)
                out.append({"features": feats, "logits": logits, "proba": torch.softmax(logits, 1)}[what].numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._forward(X, "proba")

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The learned features (input of the classifier; 256-d with the paper's sizes)."""
        return self._forward(X, "features")


def _check_inputs(Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray) -> None:
    for name, X in (("source", Xs), ("target", Xt)):
        if X.ndim != 2 or len(X) == 0:
            raise SercrossError(f"{name} features must be a non-empty 2-D matrix, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise SercrossError(
                f"{name} features contain NaN or inf values",
                hint="re-extract the corpus; files with non-finite features are left out by `sercross extract`",
            )
    if Xs.shape[1] != Xt.shape[1]:
        raise SercrossError(f"source has {Xs.shape[1]} features but target has {Xt.shape[1]}")
    if len(Xs) < 2 or len(Xt) < 2:
        raise SercrossError("need at least two source and two target utterances (batch-norm needs pairs)")
    if len(ys) != len(Xs):
        raise SercrossError(f"{len(ys)} source labels for {len(Xs)} source utterances")
    if len(np.unique(ys)) < 2:
        raise SercrossError("the source has a single class", hint="a classifier needs at least two classes")
