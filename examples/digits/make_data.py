"""Regenerate digits.npz: the 8x8 handwritten digits that scikit-learn bundles, split for training.

Only regeneration needs scikit-learn (`pip install scikit-learn`); kgraph does not.

    python examples/digits/make_data.py

digits.npz holds x_train uint8[1438, 64] and x_test uint8[359, 64] (pixel intensities 0..16,
the 8x8 images flattened row by row) and y_train, y_test uint8 (the digit, 0..9). The split is
stratified: 20% of each digit's images, chosen with a fixed seed, are held out for testing.
"""
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

SEED = 0
TEST_FRACTION = 0.2


def split(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    test = []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(y == digit))
        test.extend(rows[: round(len(rows) * TEST_FRACTION)])
    test = np.sort(np.array(test))
    train = np.setdiff1d(np.arange(len(y)), test)
    return rng.permutation(train), test


def main() -> None:
    digits = load_digits()
    x = digits.data.astype(np.uint8)  # integers 0..16 stored as float64 by scikit-learn
    assert np.array_equal(x, digits.data)
    y = digits.target.astype(np.uint8)
    train, test = split(y, np.random.default_rng(SEED))
    out = Path(__file__).with_name("digits.npz")
    np.savez_compressed(out, x_train=x[train], y_train=y[train], x_test=x[test], y_test=y[test])
    print(f"wrote {out}: {len(train)} training and {len(test)} test images")


if __name__ == "__main__":
    main()
