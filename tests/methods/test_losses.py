import numpy as np
import torch

from sercross.methods.losses import class_weights, dynamic_weights, lmmd, mmd, multi_gaussian_kernel


def numpy_mmd(x: np.ndarray, y: np.ndarray, kernel_num: int = 5, kernel_mul: float = 2.0) -> float:
    """Direct, loop-based computation of the same multi-kernel biased MMD^2, as an independent check."""
    z = np.concatenate([x, y]).astype(np.float64)
    n = len(z)
    d2 = np.array([[np.sum((a - b) ** 2) for b in z] for a in z])
    bw = d2.sum() / (n * n - n) / kernel_mul ** (kernel_num // 2)
    k = sum(np.exp(-d2 / (bw * kernel_mul**i)) for i in range(kernel_num))
    m = len(x)
    return k[:m, :m].mean() + k[m:, m:].mean() - 2 * k[:m, m:].mean()


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_shift(rng):
    x = torch.from_numpy(rng.normal(size=(200, 8))).float()
    y = torch.from_numpy(rng.normal(size=(200, 8))).float()
    same = float(mmd(x, y))
    shifts = [float(mmd(x, y + s)) for s in (0.5, 1.0, 2.0)]
    assert abs(same) < 0.05
    assert same < shifts[0] < shifts[1] < shifts[2]


def test_mmd_agrees_with_numpy(rng):
    x = rng.normal(size=(30, 5))
    y = rng.normal(loc=0.7, size=(20, 5))
    got = float(mmd(torch.from_numpy(x), torch.from_numpy(y)))
    assert np.isclose(got, numpy_mmd(x, y), rtol=1e-6, atol=1e-9)


def test_kernel_is_symmetric_with_kernel_num_on_diagonal(rng):
    x = torch.from_numpy(rng.normal(size=(10, 3)))
    k = multi_gaussian_kernel(x[:6], x[6:], kernel_num=5)
    assert torch.allclose(k, k.T)
    assert torch.allclose(k.diagonal(), torch.full((10,), 5.0, dtype=k.dtype))


def test_class_weights_columns_sum_to_one_and_use_predictions_only():
    ys = torch.tensor([0, 0, 1, 2])
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    ws, wt, used = class_weights(ys, probs, 3)
    # class 2 is never the argmax on the target, so it is left out
    assert used == 2
    assert torch.allclose(ws.sum(0), torch.tensor([1.0, 1.0, 0.0]))
    assert torch.allclose(wt.sum(0), torch.tensor([1.0, 1.0, 0.0]))
    assert torch.allclose(wt[:, 0], probs[:, 0] / probs[:, 0].sum())


def test_lmmd_depends_on_target_predictions_not_on_target_labels(rng):
    fs = torch.from_numpy(rng.normal(size=(40, 6))).float()
    ft = torch.from_numpy(rng.normal(loc=0.5, size=(40, 6))).float()
    ys = torch.from_numpy(rng.integers(0, 3, 40))
    probs = torch.softmax(torch.from_numpy(rng.normal(size=(40, 3))).float(), 1)
    # lmmd has no parameter through which target labels could enter: its value is a function of the
    # predicted probabilities, and changes when they do.
    a = float(lmmd(fs, ft, ys, probs, 3))
    b = float(lmmd(fs, ft, ys, probs.flip(0), 3))
    assert a != b
    assert a == float(lmmd(fs, ft, ys, probs.clone(), 3))


def test_lmmd_is_small_when_classes_align_and_large_when_swapped(rng):
    centers = np.array([[0.0, 0.0], [4.0, 0.0]])
    ys = np.repeat([0, 1], 50)
    fs = torch.from_numpy(centers[ys] + rng.normal(scale=0.3, size=(100, 2))).float()
    ft = torch.from_numpy(centers[ys] + rng.normal(scale=0.3, size=(100, 2))).float()
    right = torch.nn.functional.one_hot(torch.from_numpy(ys), 2).float()
    wrong = right.flip(1)
    assert float(lmmd(fs, ft, torch.from_numpy(ys), right, 2)) < 0.1 * float(
        lmmd(fs, ft, torch.from_numpy(ys), wrong, 2)
    )


def test_dynamic_weights_follow_the_formula():
    losses = torch.tensor([170.0, 169.0, 1.6, 0.05, 0.12])
    alpha = torch.tensor([0.1, 0.1, 5.0, 1.0, 0.1])
    w = dynamic_weights(losses, alpha)
    assert torch.allclose(w, alpha * losses / losses.sum())
    assert not w.requires_grad
