"""grader.data.mnli: the real MultiNLI loaders, on small files in the real formats (GLUE TSV, MultiNLI JSON lines, the hub)."""

from __future__ import annotations

import json
import subprocess
import sys

import datasets
import pytest

from grader.data.mnli import load_mnli
from grader.errors import DataError

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
    code = ("from grader.data.mnli import load_mnli\n"
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
