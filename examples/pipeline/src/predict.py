"""Predict the test split with the trained weights; write predictions and accuracy."""

import json
import sys
from pathlib import Path

import numpy as np


def main(features: Path, model: Path, out: Path) -> None:
    x = np.load(features / "test_x.npy")
    y = np.load(features / "test_y.npy")
    weights = np.load(model / "weights.npy")
    p = 1.0 / (1.0 + np.exp(-np.hstack([x, np.ones((len(x), 1))]) @ weights))
    predicted = (p >= 0.5).astype(np.int64)
    with (out / "predictions.csv").open("w") as handle:
        handle.write("probability,predicted,label\n")
        for prob, pred, label in zip(p, predicted, y, strict=True):
            handle.write(f"{prob:.6f},{pred},{label}\n")
    accuracy = float(np.mean(predicted == y))
    (out / "metrics.json").write_text(json.dumps({"accuracy": round(accuracy, 6)}) + "\n")
    print(f"predict: accuracy {accuracy:.3f} on {len(y)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
