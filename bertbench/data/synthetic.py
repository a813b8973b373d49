"""The embedded synthetic suite: an English-like corpus and 8 GLUE-style tasks, generated from a seed, no download.

Always named ``synthetic`` (tasks ``synthetic-cola`` ... ``synthetic-rte``): never passed off as GLUE.

Corpus: documents of 3-9 sentences about one of 8 topics, from a seeded grammar (determiner, adjective, noun, verb,
object, optional prepositional phrase and adverb) over a fixed lexicon with per-topic nouns, verbs and adjectives,
sentiment words and negation. Tasks mirror GLUE's formats; labels are functions of the text that a model can learn,
with graded difficulty (word order, negation scope, subject/object roles) and a little label noise, so that a
bag-of-words baseline beats chance but not a model that reads order:

| task | format | label |
|---|---|---|
| synthetic-cola | sentence | acceptable, or corrupted (word order, agreement, missing verb) |
| synthetic-sst2 | sentence | sentiment: sum of word polarities, "not" flips the next word |
| synthetic-mrpc | sentence pair | paraphrase (synonyms, moved phrase) vs changed content or swapped roles |
| synthetic-stsb | sentence pair | similarity 0-5 = 5 x fraction of shared slots (subject, verb, object, adjective, place) |
| synthetic-qqp | question pair | duplicate (same question, other determiners) vs a question on another topic (one template) |
| synthetic-mnli | premise, hypothesis | entailment (dropped modifier) / contradiction (negation, antonym) / neutral (new info) |
| synthetic-qnli | question, sentence | the sentence answers the question (same subject and verb) or not |
| synthetic-rte | sentence pair | entailment vs not (harder, more noise) |
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from bertbench.data.synthetic_lexicon import (
    ADVERBS,
    DETS,
    NEGATIVE,
    PLACES,
    POSITIVE,
    SYNONYM,
    TOPICS,
    base_form,
)
from bertbench.data.tasks import AGGREGATES, TASKS, Aggregate, TaskSpec
from bertbench.options import SYNTHETIC

SYNTHETIC_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte")
NOISE = {"cola": 0.05, "sst2": 0.05, "mrpc": 0.06, "stsb": 0.0, "qqp": 0.05, "mnli": 0.06, "qnli": 0.05, "rte": 0.10}


def _register() -> None:
    from bertbench.data.tasks import get_task as _glue

    for name in SYNTHETIC_TASKS:
        key = f"synthetic-{name}"
        if key in TASKS:
            continue
        g = _glue(name)
        TASKS.add(key, TaskSpec(key, g.text_columns, g.num_labels, g.metrics, g.main_metric.replace("_matched", ""),
                                {"": "validation"}, hub_config="", label_names=g.label_names, suite=SYNTHETIC))
    if SYNTHETIC not in AGGREGATES:
        parts = [(t.name, t.metrics) for t in (TASKS.get(f"synthetic-{name}") for name in SYNTHETIC_TASKS)]
        AGGREGATES[SYNTHETIC] = Aggregate(SYNTHETIC, tuple(parts),
                                            "Mean over the 8 synthetic tasks; two-metric tasks score their mean.")


_register()


class _Clause:
    """A sentence as slots, so tasks can edit content and roles and re-render."""

    def __init__(self, rng: random.Random, topic: str | None = None) -> None:
        self.topic = topic or rng.choice(list(TOPICS))
        lex = TOPICS[self.topic]
        self.subj, self.obj = rng.sample(lex["n"], 2)
        self.verb = rng.choice(lex["v"])
        self.adj = rng.choice(lex["a"]) if rng.random() < 0.6 else None
        self.obj_adj = rng.choice(lex["a"]) if rng.random() < 0.3 else None
        self.det1, self.det2 = rng.choice(DETS), rng.choice(DETS)
        self.place = rng.choice(PLACES) if rng.random() < 0.5 else None
        self.adv = rng.choice(ADVERBS) if rng.random() < 0.4 else None
        self.neg = False

    def copy(self) -> _Clause:
        c = object.__new__(_Clause)
        c.__dict__.update(self.__dict__)
        return c

    def words(self, front_place: bool = False) -> list[str]:
        verb = ["does", "not", base_form(self.verb)] if self.neg else [self.verb]
        subj = [self.det1] + ([self.adj] if self.adj else []) + [self.subj]
        obj = [self.det2] + ([self.obj_adj] if self.obj_adj else []) + [self.obj]
        tail = ([self.adv] if self.adv else [])
        place = self.place.split() if self.place else []
        if front_place and place:
            return place + [","] + subj + verb + obj + tail
        return subj + verb + obj + place + tail

    def text(self, front_place: bool = False) -> str:
        return " ".join(self.words(front_place)) + " ."

    def slots(self) -> dict[str, Any]:
        return {"subj": self.subj, "verb": self.verb, "obj": self.obj, "adj": self.adj, "place": self.place}


def _sentiment_sentence(rng: random.Random) -> tuple[str, int]:
    c = _Clause(rng)
    words = c.words()
    polarity = 0
    extra = []
    for _ in range(rng.randint(1, 3)):
        w = rng.choice(POSITIVE + NEGATIVE)
        sign = 1 if w in POSITIVE else -1
        if rng.random() < 0.3:
            extra += ["not", w]
            sign = -sign
        else:
            extra += [w]
        polarity += sign
        extra += [rng.choice(["and", "but", ","])]
    if polarity == 0:
        w = rng.choice(POSITIVE + NEGATIVE)
        extra += [w, ","]
        polarity = 1 if w in POSITIVE else -1
    text = " ".join(["it", "was", *extra[:-1], ":", *words]) + " ."
    return text, int(polarity > 0)


# ------------------------------------------------------------------------------------------------------------ corpus
def iter_corpus(seed: int = 0, n_docs: int = 20_000) -> Iterator[str]:
    """Documents (one string each) of 3-9 topical sentences; deterministic for ``seed``."""
    rng = random.Random(seed)
    for _ in range(n_docs):
        topic = rng.choice(list(TOPICS))
        sents = []
        for _ in range(rng.randint(3, 9)):
            r = rng.random()
            if r < 0.15:
                sents.append(_sentiment_sentence(rng)[0])
            elif r < 0.25:
                c = _Clause(rng, topic)
                sents.append(f"does {c.det1} {c.subj} {base_form(c.verb)} {c.det2} {c.obj} ?")
            else:
                c = _Clause(rng, topic)
                c.neg = rng.random() < 0.15
                sents.append(c.text(front_place=rng.random() < 0.2))
        yield " ".join(sents)


# ------------------------------------------------------------------------------------------------------------- tasks
def _cola(rng: random.Random) -> tuple[dict[str, Any], int]:
    c = _Clause(rng)
    words = c.words()
    if rng.random() < 0.5:
        return {"sentence": " ".join(words) + " ."}, 1
    kind = rng.randrange(3)
    if kind == 0:  # verb moved to the front
        v = words.index(c.verb)
        words = [words[v]] + words[:v] + words[v + 1:]
    elif kind == 1:  # agreement: plural noun after a singular determiner, or "a" before a vowel-initial noun
        i = words.index(c.subj)
        words[i] = c.subj + "s"
    else:  # verb missing
        words.remove(c.verb)
    return {"sentence": " ".join(words) + " ."}, 0


def _sst2(rng: random.Random) -> tuple[dict[str, Any], int]:
    text, label = _sentiment_sentence(rng)
    return {"sentence": text}, label


def _paraphrase(c: _Clause, rng: random.Random) -> str:
    words = c.words(front_place=c.place is not None and rng.random() < 0.5)
    words = [SYNONYM.get(w, w) if rng.random() < 0.7 else w for w in words]
    return " ".join(words) + " ."


def _mrpc(rng: random.Random) -> tuple[dict[str, Any], int]:
    c = _Clause(rng)
    s1 = c.text()
    if rng.random() < 0.5:
        return {"sentence1": s1, "sentence2": _paraphrase(c, rng)}, 1
    d = c.copy()
    if rng.random() < 0.5:
        d.subj, d.obj = d.obj, d.subj  # same words, swapped roles
    else:
        lex = TOPICS[c.topic]
        d.obj = rng.choice([n for n in lex["n"] if n not in (c.obj, c.subj)])
    return {"sentence1": s1, "sentence2": _paraphrase(d, rng)}, 0


def _stsb(rng: random.Random) -> tuple[dict[str, Any], float]:
    a = _Clause(rng)
    b = a.copy()
    lex = TOPICS[a.topic]
    changed = rng.sample(["subj", "verb", "obj", "adj", "place"], rng.randint(0, 5))
    for slot in changed:
        if slot == "subj":
            b.subj = rng.choice([n for n in lex["n"] if n != a.subj and n != a.obj])
        elif slot == "verb":
            b.verb = rng.choice([v for v in lex["v"] if v != a.verb])
        elif slot == "obj":
            b.obj = rng.choice([n for n in lex["n"] if n != a.obj and n != b.subj])
        elif slot == "adj":
            b.adj = rng.choice([x for x in lex["a"] if x != a.adj])
        else:
            b.place = rng.choice([p for p in PLACES if p != a.place])
    score = min(5.0, max(0.0, 5.0 * (5 - len(changed)) / 5 + rng.gauss(0.0, 0.6)))
    return {"sentence1": a.text(), "sentence2": _paraphrase(b, rng)}, round(score, 2)


def _question(c: _Clause) -> str:
    return f"what is it that the {c.subj} {c.verb} ?"


def _full_question(c: _Clause) -> str:
    """The whole clause as a yes/no question: 'does the fast player kick a tired ball in the park ?'."""
    return f"does {c.det1} {c.adj} {c.subj} {base_form(c.verb)} {c.det2} {c.obj_adj} {c.obj} {c.place} ?"


def _qqp(rng: random.Random) -> tuple[dict[str, Any], int]:
    """A duplicate asks the same full question with other determiners; a non-duplicate asks one about another topic
    (other subject, verb, object, adjectives and place). Both questions always share one template, so neither side
    alone tells the label: only comparing the two does (a pair model). The question of the non-duplicate is drawn
    from another topic on purpose: tiny models learn that comparison within the demo's budget, a one-word difference
    (tried: every architecture stayed at the majority class) they do not."""
    c = _Clause(rng)
    lex = TOPICS[c.topic]
    c.adj, c.obj_adj, c.place = rng.choice(lex["a"]), rng.choice(lex["a"]), rng.choice(PLACES)
    if rng.random() < 0.5:
        d = c.copy()
        d.det1, d.det2 = rng.choice(DETS), rng.choice(DETS)
        return {"question1": _full_question(c), "question2": _full_question(d)}, 1
    d = _Clause(rng, rng.choice([t for t in TOPICS if t != c.topic]))
    other = TOPICS[d.topic]
    d.adj, d.obj_adj = rng.choice(other["a"]), rng.choice(other["a"])
    d.place = rng.choice([p for p in PLACES if p != c.place])
    return {"question1": _full_question(c), "question2": _full_question(d)}, 0


def _nli(rng: random.Random, three_way: bool) -> tuple[dict[str, Any], int]:
    c = _Clause(rng)
    c.adj = c.adj or rng.choice(TOPICS[c.topic]["a"])
    c.place = c.place or rng.choice(PLACES)
    premise = c.text()
    h = c.copy()
    label = rng.randrange(3)
    if label == 0:  # entailment: drop modifiers
        h.adj = None
        if rng.random() < 0.5:
            h.place = None
        h.adv = None
    elif label == 2:  # contradiction
        if rng.random() < 0.5:
            h.neg = True
        else:
            h.place = rng.choice([p for p in PLACES if p != c.place])
            h.neg = True
    else:  # neutral: new information
        h.obj_adj = rng.choice([x for x in TOPICS[c.topic]["a"] if x != c.obj_adj])
        if rng.random() < 0.5:
            h.adv = rng.choice([a for a in ADVERBS if a != c.adv])
    if three_way:
        return {"premise": premise, "hypothesis": h.text()}, label
    return {"sentence1": premise, "sentence2": h.text()}, 0 if label == 0 else 1


def _qnli(rng: random.Random) -> tuple[dict[str, Any], int]:
    c = _Clause(rng)
    q = _question(c)
    if rng.random() < 0.5:
        return {"question": q, "sentence": c.text(front_place=rng.random() < 0.3)}, 0
    d = c.copy()
    lex = TOPICS[c.topic]
    if rng.random() < 0.5:
        d.subj, d.obj = d.obj, d.subj
    else:
        d.verb = rng.choice([v for v in lex["v"] if v != c.verb])
    return {"question": q, "sentence": d.text()}, 1


GENERATORS = {
    "cola": _cola, "sst2": _sst2, "mrpc": _mrpc, "stsb": _stsb, "qqp": _qqp,
    "mnli": lambda rng: _nli(rng, True), "qnli": _qnli, "rte": lambda rng: _nli(rng, False),
}
SIZES = {"cola": 3000, "sst2": 3000, "mrpc": 2000, "stsb": 2000, "qqp": 3000, "mnli": 4000, "qnli": 3000, "rte": 1200}


def task_rows(name: str, n: int, seed: int) -> dict[str, list]:
    """``n`` examples of synthetic task ``name`` (short name, e.g. "cola") as columns, with label noise."""
    base = name.removeprefix("synthetic-")
    if base not in GENERATORS:
        raise KeyError(f"synthetic task {name!r} is not known; allowed: {[f'synthetic-{t}' for t in SYNTHETIC_TASKS]}")
    spec = TASKS.get(f"synthetic-{base}")
    rng = random.Random(f"{base}:{seed}")
    cols: dict[str, list] = {c: [] for c in (*spec.text_columns, "label", "idx")}
    for i in range(n):
        example, label = GENERATORS[base](rng)
        if not spec.is_regression and rng.random() < NOISE[base]:
            label = rng.randrange(spec.num_labels)
        for k, v in example.items():
            cols[k].append(v)
        cols["label"].append(label)
        cols["idx"].append(i)
    return cols


def load_synthetic(name: str, seed: int = 0, n_train: int | None = None, n_dev: int | None = None) -> Any:
    """A synthetic task as ``datasets.DatasetDict(train, validation)`` with GLUE-like features."""
    from datasets import Dataset, DatasetDict

    from bertbench.data.glue import hub_features

    base = name.removeprefix("synthetic-")
    if base not in GENERATORS:
        raise KeyError(f"synthetic task {name!r} is not known; allowed: {[f'synthetic-{t}' for t in SYNTHETIC_TASKS]}")
    spec = TASKS.get(f"synthetic-{base}")
    n_train = n_train or SIZES[base]
    n_dev = n_dev or max(200, n_train // 4)
    feats = hub_features(spec)
    return DatasetDict({
        "train": Dataset.from_dict(task_rows(base, n_train, seed), features=feats),
        "validation": Dataset.from_dict(task_rows(base, n_dev, seed + 1_000_003), features=feats),
    })


def bow_baseline(name: str, seed: int = 0) -> tuple[float, float]:
    """(score, chance) of a bag-of-words baseline on a synthetic task's dev split: logistic regression on word counts
    (for pairs: counts of each side and their product), ridge regression + Pearson for STS-B. Scores in [0, 1]."""
    import numpy as np
    from scipy.sparse import hstack
    from scipy.stats import pearsonr
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    d = load_synthetic(name, seed=seed)
    tr, va = d["train"], d["validation"]
    cols = [c for c in tr.column_names if c not in ("label", "idx")]
    vec = CountVectorizer(token_pattern=r"[^ ]+").fit([x for c in cols for x in tr[c]])

    def feats(ds: Any) -> Any:
        ms = [vec.transform(ds[c]) for c in cols]
        if len(ms) == 2:
            ms.append(ms[0].multiply(ms[1]))
        return hstack(ms).tocsr()

    if name.removeprefix("synthetic-") == "stsb":
        pred = Ridge(alpha=1.0).fit(feats(tr), tr["label"]).predict(feats(va))
        return float(pearsonr(pred, va["label"])[0]), 0.0
    y = np.array(va["label"])
    pred = LogisticRegression(max_iter=3000).fit(feats(tr), tr["label"]).predict(feats(va))
    return float((pred == y).mean()), float(np.bincount(y).max() / len(y))
