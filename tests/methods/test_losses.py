import math

import numpy as np
import pytest
import torch

from sercross.methods.losses import class_weights, diversity, lmmd, mmd, multi_gaussian_kernel
from sercross.methods.weighting import dynamic_weights


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


def test_dynamic_weights_follow_the_formula_and_carry_no_gradient():
    losses = torch.tensor([170.0, 169.0, 1.6, 0.05, 0.12], requires_grad=True)
    alpha = torch.tensor([0.1, 0.1, 5.0, 1.0, 0.1])
    w = dynamic_weights(losses * 1.0, alpha)  # a graph-connected input, as in training
    assert torch.allclose(w, alpha * losses.detach() / losses.detach().sum())
    assert not w.requires_grad  # the weights are constants of the step: no gradient flows through them


def numpy_kernel(z: np.ndarray, kernel_num: int = 5, kernel_mul: float = 2.0) -> np.ndarray:
    d2 = np.array([[np.sum((a - b) ** 2) for b in z] for a in z])
    n = len(z)
    bw = d2.sum() / (n * n - n) / kernel_mul ** (kernel_num // 2)
    return sum(np.exp(-d2 / (bw * kernel_mul**i)) for i in range(kernel_num))


def dsan_class_weights(ys: np.ndarray, probs: np.ndarray, n_classes: int, threshold: float = 0.0):
    """DSAN's weights from its definition (Zhu et al., IEEE TNNLS 32(4), 2021), written out sample by sample.

    Source: w_ic = y_ic / sum_j y_jc with one-hot labels. Target: w_ic = p_ic / sum_j p_jc with the softmax
    probabilities. A class takes part only when present in the source batch and predicted on the target batch.
    With a threshold, a target sample whose top probability is below it is left out altogether: no weight, and
    it predicts no class.
    """
    kept = [threshold <= 0 or max(p) >= threshold for p in probs]
    ws, wt, used = np.zeros((len(ys), n_classes)), np.zeros((len(probs), n_classes)), []
    for c in range(n_classes):
        members = [i for i in range(len(ys)) if ys[i] == c]
        predicted = any(kept[j] and int(np.argmax(probs[j])) == c for j in range(len(probs)))
        if not members or not predicted:
            continue
        used.append(c)
        for i in members:
            ws[i, c] = 1.0 / len(members)
        mass = sum(probs[j][c] for j in range(len(probs)) if kept[j])
        for j in range(len(probs)):
            wt[j, c] = probs[j][c] / mass if kept[j] else 0.0
    return ws, wt, used


def dsan_lmmd(fs: np.ndarray, ft: np.ndarray, ys: np.ndarray, probs: np.ndarray, n_classes: int,
              threshold: float = 0.0) -> float:
    """LMMD from the same definition: the weighted MMD of each used class, averaged over the used classes."""
    ws, wt, used = dsan_class_weights(ys, probs, n_classes, threshold)
    if not used:
        return 0.0
    k = numpy_kernel(np.concatenate([fs, ft]).astype(np.float64))
    n, total = len(fs), 0.0
    for c in used:
        w = np.concatenate([ws[:, c], -wt[:, c]])  # [ws; -wt]' K [ws; -wt] = ss + tt - 2 st
        total += sum(w[a] * w[b] * k[a, b] for a in range(len(w)) for b in range(len(w)))
    assert n == len(ws)
    return total / len(used)


def random_batch(rng, n=24, m=20, n_classes=4, sharpness=2.0):
    fs = rng.normal(size=(n, 5))
    ft = rng.normal(loc=0.4, size=(m, 5))
    ys = rng.integers(0, n_classes, n)
    logits = sharpness * rng.normal(size=(m, n_classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return fs, ft, ys, probs


@pytest.mark.parametrize("threshold", [0.0, 0.4, 0.6, 0.9])
@pytest.mark.parametrize("seed", range(6))
def test_class_weights_and_lmmd_match_dsan_written_from_the_paper(threshold, seed):
    fs, ft, ys, probs = random_batch(np.random.default_rng(seed))
    ws, wt, used = class_weights(torch.from_numpy(ys), torch.from_numpy(probs), 4, threshold)
    ref_ws, ref_wt, ref_used = dsan_class_weights(ys, probs, 4, threshold)
    assert used == len(ref_used)
    assert np.allclose(ws.numpy(), ref_ws, atol=1e-12) and np.allclose(wt.numpy(), ref_wt, atol=1e-12)
    got = float(lmmd(torch.from_numpy(fs), torch.from_numpy(ft), torch.from_numpy(ys), torch.from_numpy(probs), 4,
                     threshold=threshold))
    assert np.isclose(got, dsan_lmmd(fs, ft, ys, probs, 4, threshold), rtol=1e-9, atol=1e-12)


def test_a_filtered_out_sample_makes_no_class_predicted():
    # class 0 is in the source; the only target sample leaning to it is below the threshold, and the one
    # whose row the filter zeroes would have had argmax 0: class 0 must not take part.
    ys = torch.tensor([0, 1, 2, 1])
    probs = torch.tensor([[0.40, 0.35, 0.25], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]], dtype=torch.float64)
    ws, wt, used = class_weights(ys, probs, 3, threshold=0.5)
    assert used == 2
    assert float(ws[:, 0].sum()) == 0.0 and float(wt[:, 0].sum()) == 0.0
    assert wt[0].abs().sum() == 0  # the unsure sample carries no weight for any class
    # Without the filter class 0 is predicted (by the first sample) and takes part.
    assert class_weights(ys, probs, 3)[2] == 3


def test_diversity_is_zero_for_even_use_and_log_c_for_a_collapse():
    c = 5
    even = torch.full((8, c), 1.0 / c)
    assert abs(float(diversity(even))) < 1e-7
    # each sample sure of another class, the classes used evenly over the batch: still no penalty
    assert abs(float(diversity(torch.eye(c).repeat(2, 1)))) < 1e-7
    collapsed = torch.zeros(8, c)
    collapsed[:, 2] = 1.0
    assert math.isclose(float(diversity(collapsed)), math.log(c), rel_tol=1e-6)


def test_diversity_gradient_pushes_the_batch_away_from_its_favourite_class():
    logits = torch.tensor([[3.0, 0.0, 0.0], [2.0, 1.0, 0.0], [2.5, 0.0, 0.5]], requires_grad=True)
    diversity(torch.softmax(logits, 1)).backward()
    g = logits.grad
    # descending the gradient lowers the over-used class 0 and raises the others
    assert (g[:, 0] > 0).all() and (g[:, 1:] < 0).all()
    stepped = logits.detach() - 0.5 * g
    assert float(diversity(torch.softmax(stepped, 1))) < float(diversity(torch.softmax(logits.detach(), 1)))
