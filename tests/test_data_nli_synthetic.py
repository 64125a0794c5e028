"""grader.data.nli_synthetic: the seeded generator's labels follow from its claims, and no surface cue gives them away."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from grader.data import nli_synthetic as synthetic
from grader.data.mnli import CONTRADICTION, ENTAILMENT, NEUTRAL
from grader.data.nli_synthetic import generate_nli, has_negation, words
from grader.errors import DataError

CUE_N = 3000
MAX_CUE_ACCURACY = 0.60


@pytest.fixture(scope="module")
def big():
    ds = generate_nli(CUE_N, seed=0)
    return list(ds["premise"]), list(ds["hypothesis"]), np.array(ds["label"])


# ----------------------------------------------------------------------------- basics


def test_schema_and_balance():
    ds = generate_nli(100, seed=4)
    assert ds.column_names == ["premise", "hypothesis", "label"]
    assert ds.features["label"].dtype == "int64"
    assert len(ds) == 100
    assert sorted(collections.Counter(ds["label"]).values()) == [33, 33, 34]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
def test_each_label_within_one_of_n_over_3(n):
    counts = collections.Counter(generate_nli(n, seed=n)["label"])
    assert set(counts) <= {0, 1, 2}
    assert all(abs(counts.get(lab, 0) - n / 3) <= 1 for lab in range(3))


def test_deterministic_per_seed_and_seeds_differ():
    a, b, c = generate_nli(60, seed=7), generate_nli(60, seed=7), generate_nli(60, seed=8)
    assert a.to_dict() == b.to_dict()
    assert a["premise"] != c["premise"]
    assert len(set(zip(a["premise"], a["hypothesis"])) & set(zip(c["premise"], c["hypothesis"]))) <= 1


def test_no_empty_strings_no_identical_sides_no_duplicates(big):
    premises, hypotheses, _ = big
    assert all(p.strip() and h.strip() for p, h in zip(premises, hypotheses))
    assert all(p != h for p, h in zip(premises, hypotheses))
    assert all(p[0].isupper() and p.endswith(".") for p in premises)
    assert len(set(zip(premises, hypotheses))) == CUE_N


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True, None])
def test_n_validation(bad):
    with pytest.raises(DataError, match="positive integer n"):
        generate_nli(bad)


def test_seed_validation():
    with pytest.raises(DataError, match="integer seed"):
        generate_nli(3, seed="x")


def test_exclude_keeps_sets_disjoint():
    first = generate_nli(90, seed=1)
    pairs = set(zip(first["premise"], first["hypothesis"]))
    second = generate_nli(90, seed=1, exclude=pairs)
    assert pairs.isdisjoint(zip(second["premise"], second["hypothesis"]))
    assert sorted(collections.Counter(second["label"]).values()) == [30, 30, 30]


def test_vocabulary_is_varied(big):
    premises, hypotheses, _ = big
    vocab = {w for text in premises + hypotheses for w in words(text)}
    assert len(vocab) > 500
    starts = collections.Counter(" ".join(words(h)[:2]) for h in hypotheses)
    assert starts.most_common(1)[0][1] / CUE_N < 0.05


# ----------------------------------------------------------------------------- semantics


def test_relation_logic():
    universes = {"sleep": frozenset({"asleep", "awake"}), "where": frozenset({"kitchen", "park", "beach"})}
    asleep = synthetic.Claim("sleep", frozenset({"asleep"}), "is asleep")
    not_awake = synthetic.Claim("sleep", frozenset({"asleep"}), "is not awake", True)
    awake = synthetic.Claim("sleep", frozenset({"awake"}), "is awake")
    kitchen = synthetic.Claim("where", frozenset({"kitchen"}), "in the kitchen")
    outdoors = synthetic.Claim("where", frozenset({"park", "beach"}), "outdoors")
    assert synthetic.relation([asleep], [not_awake], universes) == ENTAILMENT
    assert synthetic.relation([asleep], [awake], universes) == CONTRADICTION
    assert synthetic.relation([asleep, kitchen], [asleep], universes) == ENTAILMENT  # dropping a claim
    assert synthetic.relation([asleep], [asleep, kitchen], universes) == NEUTRAL  # adding one
    assert synthetic.relation([asleep, kitchen], [outdoors], universes) == CONTRADICTION
    assert synthetic.relation([outdoors], [asleep], universes) == NEUTRAL


@pytest.mark.parametrize("family", synthetic.FAMILIES, ids=lambda f: f.name)
def test_every_family_reaches_every_label(family):
    import random

    rng = random.Random(0)
    seen = collections.Counter()
    for _ in range(300):
        ctx = family.context(rng)
        p_slots, h_slots = synthetic._skeleton(rng, family.slots(ctx))
        universes = {s: family.universe(ctx, s) for s in set(p_slots) | set(h_slots)}
        p = [family.claim(rng, ctx, s) for s in p_slots]
        h = [family.claim(rng, ctx, s) for s in h_slots]
        if isinstance(family, synthetic._Activities):
            universes["who"] = family.universe(ctx, "who")
            p, h = [family.subject(rng, ctx, "man"), *p], [family.subject(rng, ctx, "man"), *h]
        seen[synthetic.relation(p, h, universes)] += 1
        assert family.render(rng, ctx, p).endswith(".")
    assert all(seen[label] >= 10 for label in range(3)), seen


def test_generated_examples_read_right():
    """Spot checks of the semantics on fixed claims rendered by the families."""
    import random

    rng = random.Random(0)
    states = synthetic._States()
    ctx = {"kind": "person", "subject": "Maria"}
    asleep = synthetic.Claim("sleep", frozenset({"asleep"}), "is asleep")
    assert states.render(rng, ctx, [asleep]) == "Maria is asleep."
    counts = synthetic._Counts()
    ctx = {"style": "person", "name": "Ali", "slots": ["bought|buy|apples"]}
    five = synthetic.Claim("bought|buy|apples", frozenset({5}), "5 ")
    more3 = synthetic.Claim("bought|buy|apples", frozenset(range(4, synthetic.MAX_COUNT + 1)), "more than three ")
    assert counts.render(rng, ctx, [five]) == "Ali bought 5 apples."
    assert counts.render(rng, ctx, [more3]) == "Ali bought more than three apples."
    universes = {"bought|buy|apples": frozenset(range(synthetic.MAX_COUNT + 1))}
    assert synthetic.relation([five], [more3], universes) == ENTAILMENT
    assert synthetic.relation([more3], [five], universes) == NEUTRAL


def test_has_negation():
    assert has_negation("The cat isn't awake.")
    assert has_negation("Nobody in the class passed the exam.")
    assert has_negation("Ali never drinks tea.")
    assert has_negation("There are no apples in the basket.")
    assert not has_negation("The door is closed.")
    assert not has_negation("Nora knows the notebook.")  # "no" inside words does not count


# ----------------------------------------------------------------------------- surface cues


def _lookup_accuracy(values, labels) -> float:
    """In-sample accuracy of predicting the majority label of each feature value.

    It bounds every single-threshold (or multi-threshold) rule on the same
    feature from above, so ≤ 0.60 here means no threshold on that cue works.
    """
    table = collections.defaultdict(collections.Counter)
    for value, label in zip(values, labels):
        table[value][label] += 1
    return sum(c.most_common(1)[0][1] for c in table.values()) / len(labels)


def _cues(premises, hypotheses):
    hyp_len = [len(words(h)) for h in hypotheses]
    prem_len = [len(words(p)) for p in premises]
    overlap = [round(len(set(words(h)) & set(words(p))) / len(set(words(h))), 2) for p, h in zip(premises, hypotheses)]
    return {
        "hypothesis length": hyp_len,
        "length difference": [h - p for h, p in zip(hyp_len, prem_len)],
        "word-overlap ratio": overlap,
        "negation in hypothesis": [has_negation(h) for h in hypotheses],
        "negation in premise": [has_negation(p) for p in premises],
        "negation pattern (premise, hypothesis)": [(has_negation(p), has_negation(h))
                                                   for p, h in zip(premises, hypotheses)],
    }


def test_lookup_accuracy_helper():
    assert _lookup_accuracy([1, 1, 2, 2], [0, 0, 1, 2]) == 0.75


def test_no_single_surface_cue_predicts_the_label(big, record_property):
    premises, hypotheses, labels = big
    for name, values in _cues(premises, hypotheses).items():
        accuracy = _lookup_accuracy(values, labels)
        record_property(name, round(accuracy, 3))
        assert accuracy <= MAX_CUE_ACCURACY, f"{name} predicts the label with accuracy {accuracy:.3f}"


def test_cue_means_are_close_across_labels(big):
    premises, hypotheses, labels = big
    cues = _cues(premises, hypotheses)
    for name in ("hypothesis length", "word-overlap ratio", "negation in hypothesis", "negation in premise"):
        values = np.array(cues[name], dtype=float)
        means = [values[labels == lab].mean() for lab in range(3)]
        spread = max(means) - min(means)
        assert spread <= 0.2 * max(abs(np.mean(values)), 0.05) + 0.1, (name, means)


def _bow_accuracy(texts, labels) -> float:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(texts, labels, test_size=0.3, random_state=0,
                                                        stratify=labels)
    vectorizer = CountVectorizer(token_pattern=r"[A-Za-z0-9']+")
    clf = LogisticRegression(max_iter=2000)
    clf.fit(vectorizer.fit_transform(x_train), y_train)
    return clf.score(vectorizer.transform(x_test), y_test)


def test_hypothesis_only_bag_of_words_is_near_chance(big, record_property):
    """Poliak et al. (2018): a hypothesis-only baseline must not beat chance by much."""
    _, hypotheses, labels = big
    accuracy = _bow_accuracy(hypotheses, labels)
    record_property("bow hypothesis-only", round(accuracy, 3))
    assert accuracy <= MAX_CUE_ACCURACY


def test_premise_plus_hypothesis_bag_of_words_is_near_chance(big, record_property):
    """Premise and hypothesis vocabularies are label-independent too, so concatenated BoW fails as well."""
    premises, hypotheses, labels = big
    accuracy = _bow_accuracy([p + " " + h for p, h in zip(premises, hypotheses)], labels)
    record_property("bow premise+hypothesis", round(accuracy, 3))
    assert accuracy <= MAX_CUE_ACCURACY


def test_bag_of_words_oracle_detects_a_planted_cue(big):
    """The probe is not blind: plant "not" in every contradiction and it scores far above 0.60."""
    _, hypotheses, labels = big
    planted = [h + (" not" if lab == CONTRADICTION else "") for h, lab in zip(hypotheses, labels)]
    assert _bow_accuracy(planted, labels) > 0.6
