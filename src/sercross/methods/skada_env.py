"""skada, imported so that it cannot change scikit-learn for the rest of the process.

skada turns on scikit-learn's metadata routing globally when it is imported (``sklearn.set_config(
enable_metadata_routing=True)`` in its ``__init__``). With routing on, plain scikit-learn estimators elsewhere in
sercross (PCA + SVM's grid search, reverse validation's logistic regression) would behave differently. Here skada
is imported, and every skada estimator is fitted and scored, inside :func:`skada_context`, which restores the
caller's configuration on exit (scikit-learn keeps its configuration per thread).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def skada_context() -> Iterator[ModuleType]:
    """``with skada_context() as skada:`` — skada with metadata routing on inside the block only."""
    import sklearn

    with sklearn.config_context(enable_metadata_routing=True):
        import skada  # its import-time set_config is undone when the context exits

        yield skada
