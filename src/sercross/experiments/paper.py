"""The paper's published numbers (Tao et al. 2022, Tables 3 and 4), transcribed, and which of our methods each
row stands for. They are shown in their own, labelled tables, never in our cells.
"""

from __future__ import annotations

from sercross.experiments.schemes import PAPER_SCHEMES, scheme_key

PAPER_CITATION = (
    "H. Tao, Y. Wang, Z. Zhuang, H. Fu, X. Guo, S. Zou. Cross-Corpus Speech Emotion Recognition Based on "
    "Transfer Learning and Multi-Loss Dynamic Adjustment. Computational Intelligence and Neuroscience, 2022"
)
# Transcribed from the paper (Tables 3 and 4, WAR in %), columns E→B, B→E, E→C, C→E, B→C, C→B, Average.
# The Average is the paper's printed value (not recomputed here).
PAPER_SCHEME_NAMES = tuple(scheme_key(s, t) for s, t in PAPER_SCHEMES)
PAPER_TABLE3: dict[str, tuple[float, ...]] = {
    "TLMLDA_w": (51.95, 31.15, 31.10, 30.40, 32.70, 53.53, 38.51),
    "TLMLDA_α": (46.62, 34.33, 31.60, 30.67, 32.70, 53.13, 38.18),
    "TLMLDA_L": (36.76, 21.12, 28.70, 28.01, 20.05, 42.71, 29.56),
    "TLMLDA_M": (54.08, 38.28, 34.90, 29.23, 32.70, 54.33, 40.58),
    "TLMLDA": (58.93, 43.16, 35.40, 32.74, 41.00, 57.11, 44.72),
}
PAPER_TABLE4: dict[str, tuple[float, ...]] = {
    "PCA + SVM": (50.85, 33.48, 28.40, 27.61, 33.13, 43.38, 36.14),
    "DoSL [14]": (50.55, 33.03, 35.20, 33.81, 39.23, 53.20, 40.84),
    "TSDSL [17]": (47.41, 35.44, 32.50, 33.25, 37.40, 56.74, 40.46),
    "JDAR [18]": (48.74, 38.14, 30.30, 28.43, 38.60, 49.58, 38.97),
    "DBN + BP [28]": (29.86, 32.21, 24.20, 31.02, 35.80, 49.59, 33.78),
    "TLMLDA": (58.93, 43.16, 35.40, 32.74, 41.00, 57.11, 44.72),
}
PAPER_TABLES = {"table3": PAPER_TABLE3, "table4": PAPER_TABLE4}
# Our method -> its row in the paper.
PAPER_ROW = {
    "tlmlda_w": "TLMLDA_w", "tlmlda_alpha": "TLMLDA_α", "tlmlda_l": "TLMLDA_L", "tlmlda_m": "TLMLDA_M",
    "tlmlda": "TLMLDA", "pca_svm": "PCA + SVM",
}


def paper_rows_consistency() -> list[str]:
    """Rows whose printed Average is not the mean of their six values (beyond rounding)."""
    notes = []
    for name, table in (("Table 3", PAPER_TABLE3), ("Table 4", PAPER_TABLE4)):
        for row, vals in table.items():
            mean = sum(vals[:6]) / 6
            if abs(mean - vals[6]) > 0.01:
                notes.append(
                    f"the paper's {name} prints {vals[6]:.2f} as the Average of {row}; the mean of its six "
                    f"values is {mean:.2f} (transcribed as printed)"
                )
    return notes
