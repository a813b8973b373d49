"""Bag-of-words baselines on the 8 synthetic tasks (logistic regression; ridge for STS-B), with the majority rate.

    python bench/experiments/synthetic_baselines.py
"""

from __future__ import annotations

from bertbench.data import synthetic


def main() -> None:
    print(f"{'task':<16} {'BoW':>7} {'majority':>9}")
    for name in synthetic.SYNTHETIC_TASKS:
        score, chance = synthetic.bow_baseline(name)
        unit = "pearson" if name == "stsb" else "acc"
        print(f"synthetic-{name:<6} {100 * score:7.1f} {100 * chance:9.1f}  ({unit})")


if __name__ == "__main__":
    main()
