"""Logistic regression by full-batch gradient descent (pure numpy)."""

import sys
from pathlib import Path

import numpy as np


def main(features: Path, out: Path, learning_rate: float, epochs: int) -> None:
    x = np.load(features / "train_x.npy")
    y = np.load(features / "train_y.npy")
    x = np.hstack([x, np.ones((len(x), 1))])  # bias column
    weights = np.zeros(x.shape[1])
    for _ in range(epochs):
        p = 1.0 / (1.0 + np.exp(-x @ weights))
        weights -= learning_rate * x.T @ (p - y) / len(y)
    np.save(out / "weights.npy", weights)
    loss = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
    print(f"train: {epochs} epochs, final loss {loss:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
