"""Split data/raw.csv into train/test (seeded by REPROBUILD_SEED) and standardize the
features with the training split's mean and standard deviation."""

import os
import sys
from pathlib import Path

import numpy as np


def main(raw: Path, out: Path, test_fraction: float) -> None:
    table = np.loadtxt(raw, delimiter=",", skiprows=1)
    features, labels = table[:, :-1], table[:, -1].astype(np.int64)
    rng = np.random.default_rng(int(os.environ["REPROBUILD_SEED"]))
    order = rng.permutation(len(labels))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    mean = features[train].mean(axis=0)
    std = features[train].std(axis=0)
    # .npy, not .npz: an .npz is a zip that stamps the current time into its entries.
    np.save(out / "train_x.npy", (features[train] - mean) / std)
    np.save(out / "train_y.npy", labels[train])
    np.save(out / "test_x.npy", (features[test] - mean) / std)
    np.save(out / "test_y.npy", labels[test])
    print(f"featurize: {len(train)} train rows, {len(test)} test rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
