"""grader.data.nli: the (train, eval) sets of a configuration, generated or read from MultiNLI files."""

from __future__ import annotations

import subprocess
import sys

from grader.data.nli import load_nli_splits
from grader.data.nli_synthetic import generate_nli
from grader.profiles import PROFILES
from tests.test_data_mnli import EXPECTED_TRAIN, multinli_dir  # noqa: F401 (a fixture)


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
    code = ("import sys\nimport grader.data.nli, grader.data.mnli\n"
            "from grader.data.nli_synthetic import generate_nli\ngenerate_nli(6, seed=1)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
