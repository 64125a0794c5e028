"""grader.data.nli: the cue-free generator and the real MultiNLI loaders (on small files in the real formats)."""

from __future__ import annotations

import collections
import json
import subprocess
import sys

import datasets
import numpy as np
import pytest

from grader.data import nli
from grader.data.nli import generate_nli, has_negation, load_mnli, load_nli_splits, words
from grader.errors import DataError
from grader.profiles import PROFILES

CUE_N = 3000
MAX_CUE_ACCURACY = 0.60


@pytest.fixture(scope="module")
def big():
    ds = generate_nli(CUE_N, seed=0)
    return list(ds["premise"]), list(ds["hypothesis"]), np.array(ds["label"])


# ----------------------------------------------------------------------------- generator basics


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
    asleep = nli.Claim("sleep", frozenset({"asleep"}), "is asleep")
    not_awake = nli.Claim("sleep", frozenset({"asleep"}), "is not awake", True)
    awake = nli.Claim("sleep", frozenset({"awake"}), "is awake")
    kitchen = nli.Claim("where", frozenset({"kitchen"}), "in the kitchen")
    outdoors = nli.Claim("where", frozenset({"park", "beach"}), "outdoors")
    assert nli.relation([asleep], [not_awake], universes) == nli.ENTAILMENT
    assert nli.relation([asleep], [awake], universes) == nli.CONTRADICTION
    assert nli.relation([asleep, kitchen], [asleep], universes) == nli.ENTAILMENT  # dropping a claim
    assert nli.relation([asleep], [asleep, kitchen], universes) == nli.NEUTRAL  # adding one
    assert nli.relation([asleep, kitchen], [outdoors], universes) == nli.CONTRADICTION
    assert nli.relation([outdoors], [asleep], universes) == nli.NEUTRAL


@pytest.mark.parametrize("family", nli.FAMILIES, ids=lambda f: f.name)
def test_every_family_reaches_every_label(family):
    import random

    rng = random.Random(0)
    seen = collections.Counter()
    for _ in range(300):
        ctx = family.context(rng)
        p_slots, h_slots = nli._skeleton(rng, family.slots(ctx))
        universes = {s: family.universe(ctx, s) for s in set(p_slots) | set(h_slots)}
        p = [family.claim(rng, ctx, s) for s in p_slots]
        h = [family.claim(rng, ctx, s) for s in h_slots]
        if isinstance(family, nli._Activities):
            universes["who"] = family.universe(ctx, "who")
            p, h = [family.subject(rng, ctx, "man"), *p], [family.subject(rng, ctx, "man"), *h]
        seen[nli.relation(p, h, universes)] += 1
        assert family.render(rng, ctx, p).endswith(".")
    assert all(seen[label] >= 10 for label in range(3)), seen


def test_generated_examples_read_right():
    """Spot checks of the semantics on fixed claims rendered by the families."""
    import random

    rng = random.Random(0)
    states = nli._States()
    ctx = {"kind": "person", "subject": "Maria"}
    asleep = nli.Claim("sleep", frozenset({"asleep"}), "is asleep")
    assert states.render(rng, ctx, [asleep]) == "Maria is asleep."
    counts = nli._Counts()
    ctx = {"style": "person", "name": "Ali", "slots": ["bought|buy|apples"]}
    five = nli.Claim("bought|buy|apples", frozenset({5}), "5 ")
    more3 = nli.Claim("bought|buy|apples", frozenset(range(4, nli.MAX_COUNT + 1)), "more than three ")
    assert counts.render(rng, ctx, [five]) == "Ali bought 5 apples."
    assert counts.render(rng, ctx, [more3]) == "Ali bought more than three apples."
    universes = {"bought|buy|apples": frozenset(range(nli.MAX_COUNT + 1))}
    assert nli.relation([five], [more3], universes) == nli.ENTAILMENT
    assert nli.relation([more3], [five], universes) == nli.NEUTRAL


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
    planted = [h + (" not" if lab == nli.CONTRADICTION else "") for h, lab in zip(hypotheses, labels)]
    assert _bow_accuracy(planted, labels) > 0.6


# ----------------------------------------------------------------------------- real formats

TSV_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
              "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"]
ROWS = [  # (premise, hypothesis, gold) with GLUE's literal quotes left in
    ('He said "hello" to me.', "He greeted me.", "entailment"),
    ("The room was quiet.", "The room was \"loud\".", "contradiction"),
    ("A man walks.", "A man walks to work.", "neutral"),
    ("Nobody agreed.", "Everyone agreed.", "-"),
    ("It rained.", "The ground got wet.", "entailment"),
]


def _write_tsv(path, rows, header=TSV_HEADER):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\t".join(header) + "\n")
        for i, (p, h, g) in enumerate(rows):
            fields = [str(i), "1", f"{i}e", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)", p, h, g, g]
            f.write("\t".join(fields[: len(header)]) + "\n")


def _write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for i, (p, h, g) in enumerate(rows):
            f.write(json.dumps({"annotator_labels": [g], "genre": "fiction", "gold_label": g, "pairID": f"{i}e",
                                "promptID": i, "sentence1": p, "sentence2": h,
                                "sentence1_parse": "(ROOT x)", "sentence2_parse": "(ROOT y)"}) + "\n")


@pytest.fixture
def glue_dir(tmp_path):
    folder = tmp_path / "glue" / "MNLI"
    folder.mkdir(parents=True)
    _write_tsv(folder / "train.tsv", ROWS)
    _write_tsv(folder / "dev_matched.tsv", ROWS[:3])
    _write_tsv(folder / "dev_mismatched.tsv", ROWS[2:])
    return folder


@pytest.fixture
def multinli_dir(tmp_path):
    folder = tmp_path / "multinli_1.0"
    folder.mkdir()
    _write_jsonl(folder / "multinli_1.0_train.jsonl", ROWS)
    _write_jsonl(folder / "multinli_1.0_dev_matched.jsonl", ROWS[:3])
    _write_jsonl(folder / "multinli_1.0_dev_mismatched.jsonl", ROWS[2:])
    return folder


EXPECTED_TRAIN = {"premise": ['He said "hello" to me.', "The room was quiet.", "A man walks.", "It rained."],
                  "hypothesis": ["He greeted me.", 'The room was "loud".', "A man walks to work.",
                                 "The ground got wet."],
                  "label": [0, 2, 1, 0]}


def test_glue_tsv_reads_quotes_literally_and_drops_unlabelled(glue_dir):
    ds = load_mnli("glue-tsv", "train", path=glue_dir)
    assert ds.column_names == ["premise", "hypothesis", "label"]
    assert ds.to_dict() == EXPECTED_TRAIN
    assert load_mnli("glue-tsv", "validation_mismatched", path=glue_dir)["label"] == [1, 0]
    # The GLUE root (holding MNLI/) and a single file work too.
    assert load_mnli("glue-tsv", "validation_matched", path=glue_dir.parent)["label"] == [0, 2, 1]
    assert load_mnli("glue-tsv", "train", path=glue_dir / "dev_matched.tsv")["label"] == [0, 2, 1]


def test_multinli_jsonl(multinli_dir):
    ds = load_mnli("multinli-jsonl", "train", path=multinli_dir)
    assert ds.to_dict() == EXPECTED_TRAIN
    assert load_mnli("multinli-jsonl", "validation_matched", path=multinli_dir)["label"] == [0, 2, 1]
    assert load_mnli("multinli-jsonl", "dev_mismatched", path=multinli_dir.parent)["label"] == [1, 0]


def test_seeded_subset(multinli_dir):
    a = load_mnli("multinli-jsonl", "train", path=multinli_dir, n=2, seed=3)
    b = load_mnli("multinli-jsonl", "train", path=multinli_dir, n=2, seed=3)
    assert a.to_dict() == b.to_dict()
    assert len(a) == 2
    full = EXPECTED_TRAIN["premise"]
    assert [full.index(p) for p in a["premise"]] == sorted(full.index(p) for p in a["premise"])  # file order kept
    subsets = {tuple(load_mnli("multinli-jsonl", "train", path=multinli_dir, n=2, seed=s)["premise"])
               for s in range(10)}
    assert len(subsets) > 1
    with pytest.raises(DataError, match=r"holds 4 labelled pairs, fewer than the 9 asked for"):
        load_mnli("multinli-jsonl", "train", path=multinli_dir, n=9)


def test_missing_folder_and_file_errors(tmp_path, glue_dir):
    with pytest.raises(DataError, match=r"does not exist: .*train.tsv, dev_matched.tsv, dev_mismatched.tsv"):
        load_mnli("glue-tsv", "train", path=tmp_path / "nowhere")
    (glue_dir / "dev_mismatched.tsv").unlink()
    with pytest.raises(DataError, match=r"has no dev_mismatched.tsv \(split 'validation_mismatched'\)"):
        load_mnli("glue-tsv", "validation_mismatched", path=glue_dir)
    with pytest.raises(DataError, match=r"needs a path.*multinli_1.0_train.jsonl"):
        load_mnli("multinli-jsonl", "train")
    with pytest.raises(DataError, match=r"unknown MNLI split 'test'"):
        load_mnli("glue-tsv", "test", path=glue_dir)
    with pytest.raises(DataError, match=r"unknown MNLI source 'csv'.*hub, glue-tsv, multinli-jsonl"):
        load_mnli("csv", "train", path=glue_dir)


def test_missing_column_and_unknown_label(tmp_path):
    no_gold = tmp_path / "train.tsv"
    _write_tsv(no_gold, ROWS, header=TSV_HEADER[:-1])
    with pytest.raises(DataError, match=r"train.tsv lacks column\(s\) gold_label"):
        load_mnli("glue-tsv", "train", path=tmp_path)
    bad = tmp_path / "bad.tsv"
    _write_tsv(bad, [("a", "b", "entailment"), ("c", "d", "maybe")])
    with pytest.raises(DataError, match=r"bad.tsv, line 3: unknown label 'maybe'"):
        load_mnli("glue-tsv", "train", path=bad)
    lines = tmp_path / "x.jsonl"
    lines.write_text('{"sentence1": "a", "gold_label": "neutral"}\n')
    with pytest.raises(DataError, match=r"x.jsonl, line 1: missing key\(s\) sentence2"):
        load_mnli("multinli-jsonl", "train", path=lines)
    lines.write_text('{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n{broken\n')
    with pytest.raises(DataError, match=r"x.jsonl, line 2: not valid JSON"):
        load_mnli("multinli-jsonl", "train", path=lines)


def test_hub_path_with_patched_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return datasets.Dataset.from_dict({"premise": ["p0", "p1", "p2", "p3"], "hypothesis": ["h0", "h1", "h2", "h3"],
                                           "label": [2, -1, 0, 1], "idx": [0, 1, 2, 3]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ds = load_mnli("hub", "validation_mismatched")
    assert calls == [("nyu-mll/glue", "mnli", "validation_mismatched")]
    assert ds.column_names == ["premise", "hypothesis", "label"]
    assert ds.to_dict() == {"premise": ["p0", "p2", "p3"], "hypothesis": ["h0", "h2", "h3"], "label": [2, 0, 1]}


def test_hub_offline_is_a_clear_data_error():
    """The real call, offline: a DataError pointing to the local formats, not a hub traceback."""
    code = ("from grader.data.nli import load_mnli\n"
            "from grader.errors import DataError\n"
            "try:\n    load_mnli('hub', 'validation_matched')\n"
            "except DataError as e:\n    print('DataError:', e)\n")
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "HF_HOME": "/nonexistent-mizan-hf-home"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("DataError: could not load nyu-mll/glue/mnli split 'validation_matched' from the hub")
    assert 'nli.source = "glue-tsv"' in proc.stdout and 'nli.source = "multinli-jsonl"' in proc.stdout
    assert "python -m grader grade --set nli.source=glue-tsv --set nli.data_path=" in proc.stdout


# ----------------------------------------------------------------------------- splits for a profile


def test_generated_splits_are_disjoint_and_sized():
    cfg = PROFILES["smoke"].nli
    train, evaluation = load_nli_splits(cfg)
    assert (len(train), len(evaluation)) == (cfg.n_train, cfg.n_eval)
    assert set(zip(train["premise"], train["hypothesis"])).isdisjoint(zip(evaluation["premise"],
                                                                          evaluation["hypothesis"]))
    assert train.to_dict() == generate_nli(cfg.n_train, seed=2 * cfg.seed).to_dict()
    again, _ = load_nli_splits(cfg)
    assert again.to_dict() == train.to_dict()


def test_real_source_splits(multinli_dir):
    cfg = PROFILES["smoke"].replace(nli={"source": "multinli-jsonl", "data_path": str(multinli_dir),
                                         "n_train": 3, "n_eval": 2, "eval_split": "validation_mismatched"}).nli
    train, evaluation = load_nli_splits(cfg)
    assert len(train) == 3 and set(train["premise"]) <= set(EXPECTED_TRAIN["premise"])
    assert evaluation.to_dict() == {"premise": ["A man walks.", "It rained."],
                                    "hypothesis": ["A man walks to work.", "The ground got wet."], "label": [1, 0]}


def test_module_imports_without_torch():
    code = ("import sys\nimport grader.data.nli as m\nm.generate_nli(6, seed=1)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
