"""Numeric precision of training: fp32, or bf16 mixed precision, and ``auto``, which picks bf16 only on a CPU that
computes bf16 natively.

Mixed precision here means: master weights, optimizer state, batch-norm running statistics and every loss in fp32;
the network's forward pass (its matmuls, and the activations between them) in bf16 under ``torch.autocast``. The
loss terms are computed outside the autocast region on fp32 copies of the network's outputs, because some of them
lose most of their digits in bf16 (measured per term by ``bench/precision_terms.py``; docs/performance.md).

``auto`` is resolved once, by the process that builds the training configuration, into ``fp32`` or ``bf16``; only
the resolved value is stored in a run, so a run's fingerprint never depends on which machine reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sercross.methods.config import PRECISIONS

PRECISION_CHOICES = (*PRECISIONS, "auto")
# CPU features that compute bf16 dot products in hardware: x86 (AVX512-BF16, AMX) and ARM (BF16, SVE-BF16).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


@dataclass(frozen=True)
class Resolved:
    """A precision as trained (``fp32`` or ``bf16``) and the sentence that says why it was chosen."""

    precision: str
    reason: str


def cpu_bf16_flags(capabilities: Mapping[str, object] | None = None, cpuinfo: str | None = None) -> tuple[str, ...]:
    """The native-bf16 features this CPU has (empty: none): from torch's own query (``torch.cpu.get_capabilities``,
    torch >= 2.8), else from the flags of /proc/cpuinfo. Arguments stand in for both in tests."""
    if capabilities is None and cpuinfo is None:
        capabilities = _torch_capabilities()
    if capabilities is not None:
        return tuple(f for f in NATIVE_BF16_FLAGS if capabilities.get(f) is True)
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return ()
    words: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):  # x86 | ARM
            words.update(value.split())
    return tuple(f for f in NATIVE_BF16_FLAGS if f in words)


def _torch_capabilities() -> Mapping[str, object] | None:
    import torch

    query = getattr(getattr(torch, "cpu", None), "get_capabilities", None)
    try:
        return query() if query is not None else None
    except RuntimeError:  # pragma: no cover - cpuinfo failed to initialise
        return None


def torch_bf16_matmul() -> bool:
    """Whether this torch build sends bf16 matmuls to oneDNN's bf16 kernels (else a slow reference loop)."""
    import torch

    check = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except (RuntimeError, AttributeError):  # pragma: no cover - a build without oneDNN
        return False


def native_bf16(flags: tuple[str, ...] | None = None, onednn: bool | None = None) -> Resolved:
    """Whether bf16 is native here: the CPU has a bf16 instruction set and torch's oneDNN path uses it."""
    flags = cpu_bf16_flags() if flags is None else flags
    onednn = torch_bf16_matmul() if onednn is None else onednn
    if not flags:
        return Resolved("fp32", "this CPU has no native bf16 (none of the flags " + ", ".join(NATIVE_BF16_FLAGS)
                        + "): bf16 would be emulated, slower than fp32")
    if not onednn:
        return Resolved("fp32", f"this CPU has {', '.join(flags)} but this torch build does not use oneDNN's bf16 "
                        "matmuls (torch.ops.mkldnn._is_mkldnn_bf16_supported() is False)")
    return Resolved("bf16", f"this CPU computes bf16 natively ({', '.join(flags)})")


def resolve_precision(asked: str, detect: Callable[[], Resolved] | None = None) -> Resolved:
    """``fp32`` / ``bf16`` as given; ``auto``: bf16 where the CPU computes it natively (``detect``, default
    :func:`native_bf16`), fp32 elsewhere."""
    from sercross.methods.validation import check_choice

    check_choice("--precision", "precision", asked, PRECISION_CHOICES)
    if asked != "auto":
        return Resolved(asked, "as asked")
    found = (detect or native_bf16)()
    return Resolved(found.precision, f"auto: {found.reason}")


def forward_precision(precision: str) -> AbstractContextManager:
    """The context a network's forward pass runs in: bf16 autocast for ``bf16``, nothing for ``fp32``."""
    if precision == "fp32":
        return nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def as_fp32(*tensors):
    """The network's outputs in fp32 (each one unchanged when it already is): every loss is computed in fp32."""
    import torch

    return tuple(t if t is None or t.dtype == torch.float32 else t.float() for t in tensors)
