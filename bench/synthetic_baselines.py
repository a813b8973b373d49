"""Bag-of-words baselines on the 8 synthetic tasks (logistic regression; ridge for STS-B), with the majority rate.

    python bench/synthetic_baselines.py
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import hstack
from scipy.stats import pearsonr
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression, Ridge

from bertbench.data import synthetic


def main() -> None:
    print(f"{'task':<16} {'train':>6} {'dev':>5} {'BoW':>7} {'majority':>9}")
    for name in synthetic.SYNTHETIC_TASKS:
        d = synthetic.load_synthetic(name)
        tr, va = d["train"], d["validation"]
        cols = [c for c in tr.column_names if c not in ("label", "idx")]
        vec = CountVectorizer(token_pattern=r"[^ ]+").fit([x for c in cols for x in tr[c]])

        def feats(ds):
            ms = [vec.transform(ds[c]) for c in cols]
            if len(ms) == 2:
                ms.append(ms[0].multiply(ms[1]))
            return hstack(ms).tocsr()

        if name == "stsb":
            pred = Ridge(alpha=1.0).fit(feats(tr), tr["label"]).predict(feats(va))
            score, chance, unit = 100 * pearsonr(pred, va["label"])[0], 0.0, "pearson"
        else:
            y = np.array(va["label"])
            pred = LogisticRegression(max_iter=3000).fit(feats(tr), tr["label"]).predict(feats(va))
            score, chance, unit = 100 * (pred == y).mean(), 100 * np.bincount(y).max() / len(y), "acc"
        print(f"synthetic-{name:<6} {tr.num_rows:>6} {va.num_rows:>5} {score:7.1f} {chance:9.1f}  ({unit})")


if __name__ == "__main__":
    main()
