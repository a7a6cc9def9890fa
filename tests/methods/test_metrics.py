import numpy as np

from sercross.methods.metrics import confusion, score, uar, war


def test_war_uar_confusion_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 0, 2, 0])
    assert war(y, p) == 5 / 8
    assert np.isclose(uar(y, p, 3), (3 / 4 + 1 / 2 + 1 / 2) / 3)
    assert confusion(y, p, 3).tolist() == [[3, 1, 0], [1, 1, 0], [1, 0, 1]]


def test_score_ignores_absent_classes_in_uar():
    s = score(np.array([0, 0, 1]), np.array([0, 1, 1]), ("a", "b", "c"))
    assert s["per_class_recall"] == {"a": 0.5, "b": 1.0, "c": None}
    assert np.isclose(s["uar"], 0.75)
    assert sum(map(sum, s["confusion"])) == 3
