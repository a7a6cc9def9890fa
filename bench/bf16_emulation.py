"""bf16 matmuls at fp32 speed, with bf16's rounding, for measuring bf16's *accuracy* on a CPU without native bf16.

On such a CPU torch computes a bf16 matmul with a reference loop, tens of times slower than fp32 (``make bench``
prints both); one B→C epoch of the fast preset took 30 s that way against 4 s with this mode (one measurement).
A bf16 matmul, native or emulated, multiplies bf16 inputs and sums the products in fp32, then rounds the result
to bf16. The product of two
bf16 numbers (8-bit significands) is exact in fp32, so an fp32 matmul of the same bf16 values, rounded to bf16,
computes the same numbers; only the order of the fp32 sums differs (as it does between any two bf16 kernels).
:func:`check` measures that on the training's matmul shapes: the share of elements bit-identical with torch's own
bf16 matmul, and the largest difference in units of the last place (results near zero, where the summation order
decides the last bits).

:class:`Bf16MatmulsInFp32` is a TorchDispatchMode that does this for every bf16 mm/addmm/bmm, forward and backward
(the CPU's autograd runs on the calling thread, inside the mode). Everything else (autocast's choice of which ops
run in bf16, the bf16 activations, fp32 losses) is untouched. Bench-only: not part of ``--precision``; runs trained
with it are labelled as such by bench/precision_compare.py.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
            torch.ops.aten.baddbmm.default}


class Bf16MatmulsInFp32(TorchDispatchMode):
    """Inside this mode a matmul whose tensors are all bf16 runs as an fp32 matmul of the same values, its result
    rounded to bf16. ``count`` is how many it replaced (a test that it is used at all)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if func in _MATMULS and tensors and all(t.dtype == torch.bfloat16 for t in tensors):
            self.count += 1
            wide = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
            return func(*wide, **kwargs).bfloat16()
        return func(*args, **kwargs)


def check(shapes=((200, 1582, 1200), (200, 1200, 900), (200, 900, 1200)), seed: int = 0) -> list[dict]:
    """Per (m, k, n): the share of elements of ``a @ b`` and ``addmm(c, a, b)`` in bf16 that the mode computes
    bit-identically to torch's own bf16 kernel, and the largest difference in units of the last place."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for m, k, n in shapes:
        a, b = torch.randn(m, k, generator=gen).bfloat16(), torch.randn(k, n, generator=gen).bfloat16()
        c = torch.randn(n, generator=gen).bfloat16()
        for name, f, args in (("mm", torch.mm, (a, b)), ("addmm", torch.addmm, (c, a, b))):
            ref = f(*args)
            with Bf16MatmulsInFp32() as mode:
                emu = f(*args)
            assert mode.count == 1
            ulp = (ref.view(torch.int16).int() - emu.view(torch.int16).int()).abs()
            out.append({"shape": (m, k, n), "op": name, "identical": float((ref == emu).float().mean()),
                        "max_ulp": int(ulp.max())})
    return out


if __name__ == "__main__":
    for r in check():
        print(r)
