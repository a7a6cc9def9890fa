"""Shared fixtures: where the real corpora are, and tiny synthetic feature tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
EMODB = SHARED / "emodb"
CASIA = SHARED / "casia"


def require(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real corpus not available at {path} (tests on real audio need ../shared/corpora)")
    return path


@pytest.fixture
def emodb_root() -> Path:
    return require(EMODB)


@pytest.fixture
def casia_root() -> Path:
    return require(CASIA)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
