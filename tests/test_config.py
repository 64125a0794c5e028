"""The course configuration (grader/config.py): messages with file, line, key and fix; --set; precedence;
the effective profile reaching the checks, the sandbox's argv, the content hash and the paper profile's loaders."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from grader import batch
from grader.config import TOP_KEYS, ConfigError, course_toml, find_config, key_line, load_profile, parse_set
from grader.profiles import PROFILES, Profile, get_profile
from tests.mizan_demo import CHECKS_DIR, HERE, RUBRIC_DIR, STEP_MODULE, open_tmpdir, prepare_demo_inputs

ROOT = Path(__file__).resolve().parents[1]
NO_ENV: dict = {}


def write(folder: Path, text: str, name: str = "mizan.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, *sets: str, **kw) -> Profile:
    return load_profile(path, sets, environ=NO_ENV, cwd=path.parent, **kw)


# ---------------------------------------------------------------------------------------------- lines


def test_key_line_finds_keys_within_their_table():
    text = ('profile = "cpu"\n# [nli] in a comment\n[fraud]\nepochs = 3\n\n[nli]\nepochs = 2\n'
            '[rubric."nli.full_trainable"]\npoints = 2\n[thresholds]\nnli.full = 0.4\n')
    assert key_line(text, ("profile",)) == 1
    assert key_line(text, ("fraud", "epochs")) == 4
    assert key_line(text, ("nli", "epochs")) == 7
    assert key_line(text, ("nli",)) == 6
    assert key_line(text, ("rubric", "nli.full_trainable", "points")) == 9
    assert key_line(text, ("thresholds", "nli", "full")) == 11         # a dotted key inside a table
    assert key_line(text, ("limits", "timeout_s")) is None


def test_a_key_in_an_inline_table_is_reported_at_its_enclosing_key():
    assert key_line('profile = "cpu"\nnli = {epochs = "two"}\n', ("nli", "epochs")) == 2


# ---------------------------------------------------------------------------------------------- messages


def test_unknown_key(tmp_path):
    path = write(tmp_path, 'profile = "smoke"\n\n[nli]\nepochs = 2\nepoch = 3\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (
        f"{path}:5: nli.epoch: unknown key in [nli]; fix: use one of model, source, data_path, eval_split, n_train, "
        f"n_eval, epochs, batch_size, max_length, learning_rate, lora_learning_rate, warmup_ratio, lora_r, "
        f"lora_alpha, lora_dropout, seed (README 'Course configuration')")


def test_unknown_table(tmp_path):
    path = write(tmp_path, 'profile = "smoke"\n[training]\nepochs = 2\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert TOP_KEYS[:6] == ("profile", "nli", "fraud", "limits", "thresholds", "rubric")
    assert str(err.value) == (f"{path}:2: training: unknown key in the top level; fix: use one of "
                              f"{', '.join(TOP_KEYS)} (README 'Course configuration')")


def test_wrong_type(tmp_path):
    path = write(tmp_path, '[fraud]\nepochs = 5\n\n[nli]\nepochs = "two"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == f"{path}:5: nli.epochs: expected an integer, got 'two' (a string); fix: write epochs = 3"


def test_a_boolean_is_not_a_number(tmp_path):
    path = write(tmp_path, '[nli]\nlearning_rate = true\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f"{path}:2: nli.learning_rate: expected a number, got True (true/false); "
                              f"fix: write learning_rate = 5e-05")


def test_a_path_that_does_not_exist(tmp_path):
    path = write(tmp_path, 'profile = "paper"\n[fraud]\ndata_path = "data/creditcard.csv"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f"{path}:3: fraud.data_path: {tmp_path}/data/creditcard.csv is not an existing file; "
                              f"fix: point it at Kaggle's creditcard.csv")


def test_a_model_folder_without_config_json(tmp_path):
    (tmp_path / "roberta").mkdir()
    path = write(tmp_path, '[nli]\nmodel = "roberta"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f"{path}:2: nli.model: {tmp_path}/roberta holds no config.json, so it is not a "
                              f"save_pretrained folder; fix: point nli.model at the folder where "
                              f"model.save_pretrained() and tokenizer.save_pretrained() wrote their files")


def test_a_threshold_outside_zero_one(tmp_path):
    path = write(tmp_path, '[thresholds.nli]\nfull = 0.4\nlora = 1.5\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f"{path}:3: thresholds.nli.lora: a threshold is a lower bound of an accuracy, PR-AUC "
                              f"or recall, in [0, 1]; got 1.5; fix: write a number from 0 to 1, e.g. lora = 0.4")


def test_rubric_entries_are_checked_against_the_rubric(tmp_path):
    path = write(tmp_path, '[rubric."nli.full_trainable"]\npoints = 2\n[rubric."nli.nope"]\npoints = 1\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f'{path}:3: rubric."nli.nope": no check has this id; fix: use an id of '
                              f'grader/rubric/*.toml, quoted: [rubric."nli.full_trainable"]')
    path = write(tmp_path, '[rubric."nli.full_trainable"]\nvisibility = "public"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == (f'{path}:2: rubric."nli.full_trainable".visibility: expected "visible" or "hidden", '
                              f'got \'public\'; fix: write visibility = "visible" (students run it) or "hidden"')


def test_a_rule_over_two_fields_names_the_line_of_one(tmp_path):
    path = write(tmp_path, 'profile = "smoke"\n[fraud]\nn_rows = 100\nn_fraud = 100\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == f"{path}:4: fraud.n_fraud (100) must be smaller than fraud.n_rows (100)"


def test_invalid_toml_and_a_missing_file(tmp_path):
    path = write(tmp_path, '[rubric.nli.x\n')
    with pytest.raises(ConfigError, match=rf"^{path}: not valid TOML \(.*line 1.*\); fix: quote strings"):
        load(path)
    with pytest.raises(ConfigError) as err:
        load_profile(tmp_path / "nope.toml", environ=NO_ENV, cwd=tmp_path)
    assert str(err.value) == (f"--config {tmp_path}/nope.toml: no such file; fix: write the course configuration "
                              f"there (docs/mizan.example.toml is a complete example) or pass another path")


def test_set_errors_name_the_option(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_profile(None, ["nli.epochs=two"], environ=NO_ENV, cwd=tmp_path)
    assert str(err.value) == "--set nli.epochs=two: nli.epochs: expected an integer, got 'two' (a string); fix: write epochs = 3"
    with pytest.raises(ConfigError) as err:
        load_profile(None, ["nli.epochs"], environ=NO_ENV, cwd=tmp_path)
    assert str(err.value) == ("--set nli.epochs: expected section.key=value, e.g. --set nli.epochs=2 or "
                              "--set nli.source=glue-tsv")


# ---------------------------------------------------------------------------------------------- --set


@pytest.mark.parametrize("item, path, value", [
    ("nli.epochs=2", ("nli", "epochs"), 2),
    ("nli.learning_rate=3e-4", ("nli", "learning_rate"), 3e-4),
    ("nli.source=glue-tsv", ("nli", "source"), "glue-tsv"),          # a bare word is a string
    ('nli.model="/data/roberta large"', ("nli", "model"), "/data/roberta large"),
    ("rubric.nli.full_trainable.enabled=false", ("rubric", "nli.full_trainable", "enabled"), False),
    ('rubric."nli.full_trainable".points=3', ("rubric", "nli.full_trainable", "points"), 3),
    ("limits.step_cpu_s.nli.train_full=900", ("limits", "step_cpu_s", "nli.train_full"), 900),
    ("profile=paper", ("profile",), "paper"),
])
def test_parse_set(item, path, value):
    assert parse_set(item) == (path, value)


def test_set_values_reach_the_profile(tmp_path):
    p = load_profile(None, ["profile=smoke", "nli.epochs=5", "thresholds.fraud.recall=0.1",
                            "rubric.nli.full_trainable.points=4", "limits.step_cpu_s.nli.train_full=900"],
                     environ=NO_ENV, cwd=tmp_path)
    assert (p.name, p.nli.epochs, p.nli.batch_size) == ("smoke", 5, PROFILES["smoke"].nli.batch_size)
    assert p.thresholds == {"fraud": {"recall": 0.1}}
    assert p.rubric == {"nli.full_trainable": {"points": 4.0}}
    assert p.limits.step_cpu_s == {"nli.train_full": 900.0}


# ---------------------------------------------------------------------------------------------- precedence


def test_precedence_set_over_config_over_env_over_local_file_over_base(tmp_path):
    local = write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 11\n')
    env_file = write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 12\n', "env.toml")
    given = write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 13\n', "given.toml")
    env = {"MIZAN_CONFIG": str(env_file)}
    base = load_profile(None, (), environ={}, cwd=tmp_path / "elsewhere")
    assert base == get_profile("cpu")                                     # no file, no --set: the built-in
    assert load_profile(None, (), environ={}, cwd=tmp_path).nli.epochs == 11
    assert find_config(None, env, tmp_path) == env_file
    assert load_profile(None, (), environ=env, cwd=tmp_path).nli.epochs == 12
    assert load_profile(given, (), environ=env, cwd=tmp_path).nli.epochs == 13
    assert load_profile(given, ["nli.epochs=14"], environ=env, cwd=tmp_path).nli.epochs == 14
    # the base profile: --set profile= over --profile over the file's profile
    assert load_profile(given, (), "cpu", environ=env, cwd=tmp_path).name == "cpu"
    assert load_profile(given, ["profile=paper"], "cpu", environ=env, cwd=tmp_path).name == "paper"
    assert load_profile(given, (), environ=env, cwd=tmp_path).nli.n_train == PROFILES["smoke"].nli.n_train


def test_the_example_file_is_complete_and_valid():
    p = load_profile(ROOT / "docs" / "mizan.example.toml", environ=NO_ENV, cwd=ROOT)
    assert (p.name, p.nli.model, p.nli.epochs, p.fraud.n_rows) == ("cpu", "minilm", 4, 60000)
    assert p.limits.step_cpu_s == {"nli.train_full": 1200.0}
    assert p.thresholds == {"nli": {"full": 0.45, "freeze": 0.34, "lora": 0.42},
                            "fraud": {"pr_auc": 0.35, "recall": 0.40}}
    assert p.rubric["nli.full_trainable"] == {"points": 2.0}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Course configuration" in text and "docs/mizan.example.toml" in text


# ---------------------------------------------------------------------------------------------- hash, sandbox


def test_the_content_hash_follows_the_values_not_the_file(tmp_path):
    sub = batch.reference_submission(tmp_path / "build")
    one = load(write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 3\n'))
    same = load(write(tmp_path, '# moved\nprofile = "smoke"\n\n[nli]\nepochs = 3\n', "other.toml"))
    two = load(write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 4\n', "two.toml"))
    rubric = load(write(tmp_path, 'profile = "smoke"\n[rubric."nli.full_trainable"]\npoints = 5\n', "r.toml"))
    hashes = [batch.content_hash(sub, p) for p in (one, same, two, rubric, get_profile("smoke"))]
    assert hashes[0] == hashes[1]
    assert len(set(hashes)) == 4
    assert batch.content_hash(sub, "smoke") == hashes[4]
    from grader.run.orchestrate import inputs_key, task_fingerprint

    assert inputs_key(get_profile("smoke")) == "smoke"
    assert inputs_key(one) == inputs_key(same) != inputs_key(two)
    assert inputs_key(rubric) == "smoke"                    # the rubric changes no input
    assert task_fingerprint("nli", one) != task_fingerprint("nli", two)


def test_the_sandbox_gets_the_values_without_thresholds_or_rubric(tmp_path):
    p = load_profile(None, ["profile=smoke", "nli.epochs=7", "thresholds.nli.full=0.3",
                            "rubric.nli.full_trainable.points=3", "limits.wall_factor=2"],
                     environ=NO_ENV, cwd=tmp_path)
    seen = Profile.from_dict(json.loads(json.dumps(p.for_sandbox().to_dict())))
    assert (seen.nli.epochs, seen.limits.wall_factor, seen.thresholds, seen.rubric) == (7, 2.0, {}, {})
    assert Profile.from_dict(p.to_dict()) == p


def test_step_limits_come_from_the_profile(tmp_path):
    from grader.run.orchestrate import step_limits
    from grader.run.step_api import all_steps

    spec = next(s for s in all_steps() if s.id == "nli.train_full")
    smoke = get_profile("smoke")
    p = load_profile(None, ["profile=smoke", "limits.step_cpu_s.nli.train_full=500", "limits.wall_factor=2",
                            "limits.address_space_mb=0"], environ=NO_ENV, cwd=tmp_path)
    lim = step_limits(spec, p, threads=2)
    assert (lim.cpu_s, lim.wall_s, lim.address_space_mb) == (500 * 2 + 10, 2 * 500 + 60, None)
    nominal = spec.timeout_for(smoke)
    assert step_limits(spec, smoke, threads=1).wall_s == 4.0 * nominal + 60


def test_the_student_copy_keeps_no_hidden_check_threshold_or_path(tmp_path):
    from grader.dist import hidden_check_ids

    data = tmp_path / "creditcard.csv"
    data.write_text("x\n")
    p = load(write(tmp_path, f'profile = "cpu"\n[fraud]\nepochs = 9\ndata_path = "{data}"\n'
                             f'[thresholds.nli]\nfull = 0.5\n[rubric."nli.full_trainable"]\npoints = 3\n'
                             f'[rubric."nli.accuracy_full"]\npoints = 9\n'))
    hidden = hidden_check_ids(p)
    assert "nli.accuracy_full" in hidden and "nli.full_trainable" not in hidden
    student = course_toml(p, keep_rubric=lambda i: i not in hidden, thresholds=False, paths=False)
    assert student.splitlines()[1:] == ['profile = "cpu"', "", "[fraud]", "epochs = 9", "",
                                        '[rubric."nli.full_trainable"]', "points = 3.0"]
    full = write(tmp_path, course_toml(p), "full.toml")
    assert load(full).fingerprint() == p.fingerprint()


# ---------------------------------------------------------------------------------------------- the paper profile


def _paper_files(folder: Path, n_pairs: int = 6, n_rows: int = 40, n_fraud: int = 4) -> dict:
    """The paper profile's three inputs in their real formats: a save_pretrained tiny RoBERTa, GLUE's MNLI
    TSVs (12 columns, literal quotes) and creditcard.csv with Kaggle's quoted header and Class values."""
    import numpy as np

    from grader.models import tiny_roberta

    model, tokenizer = tiny_roberta(seed=0)
    model.save_pretrained(folder / "roberta")
    tokenizer.save_pretrained(folder / "roberta")
    glue = folder / "MNLI"
    glue.mkdir()
    head = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t" \
           "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label\n"
    rows = [("A man plays a guitar.", "A person makes music.", "entailment"),
            ("A man plays a guitar.", "A woman sleeps.", "contradiction"),
            ("Two dogs run in a park.", "The dogs are young.", "neutral"),
            ("Two dogs run in a park.", "Animals are outside.", "entailment"),
            ("A child reads \"Matilda\".", "Nobody is reading.", "contradiction"),
            ("A child reads a book.", "The book is long.", "neutral")]
    gold = ("entailment", "neutral", "contradiction")
    rows += [(f"Person {i} walks to shop {i % 7}.", f"Someone number {i} is {('moving', 'happy', 'asleep')[i % 3]}.",
              gold[i % 3]) for i in range(len(rows), n_pairs)]
    for name in ("train.tsv", "dev_matched.tsv", "dev_mismatched.tsv"):
        lines = [f"{i}\t0\t{i}\tfiction\t-\t-\t-\t-\t{p}\t{h}\t{g}\t{g}\n" for i, (p, h, g) in enumerate(rows)]
        (glue / name).write_text(head + "".join(lines), encoding="utf-8")
    columns = ["Time", *(f"V{i}" for i in range(1, 29)), "Amount", "Class"]
    rng = np.random.default_rng(0)
    csv_lines = [",".join(f'"{c}"' for c in columns)]
    for r in range(n_rows):
        fraud = r % (n_rows // n_fraud) == 0
        v = rng.normal(2.0 if fraud else 0.0, 1.0, 28)
        csv_lines.append(",".join([str(r * 10), *(f"{x:.5f}" for x in v), f"{r * 1.5:.2f}",
                                   '"1"' if fraud else '"0"']))
    (folder / "creditcard.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    return {"model": folder / "roberta", "glue": glue, "csv": folder / "creditcard.csv"}


PAPER_CONFIG = """\
profile = "paper"
[nli]
model = "roberta"
source = "glue-tsv"
data_path = "MNLI"
n_train = 6
n_eval = 6
epochs = 1
batch_size = 4
max_length = 32
[fraud]
data_path = "creditcard.csv"
epochs = 1
batch_size = 16
[thresholds.nli]
full = 0.0
freeze = 0.0
lora = 0.0
[thresholds.fraud]
pr_auc = 0.0
recall = 0.0
"""


def test_the_paper_profile_runs_from_local_files(tmp_path):
    """A save_pretrained RoBERTa, GLUE's MNLI TSVs and a creditcard.csv with its quoted header: the
    configuration validates and the loaders read exactly those files."""
    from grader.data.fraud import load_fraud_frame, split_xy
    from grader.data.nli import load_nli_splits
    from grader.models import load_nli_model

    files = _paper_files(tmp_path)
    p = load(write(tmp_path, PAPER_CONFIG))
    assert (p.name, p.nli.model, p.nli.data_path, p.fraud.data_path) == (
        "paper", str(files["model"]), str(files["glue"]), str(files["csv"]))
    assert p.nli.eval_split == "validation_mismatched" and p.limits.address_space_mb == 0
    train, evaluation = load_nli_splits(p.nli)
    assert (len(train), len(evaluation)) == (6, 6)
    assert train["label"] == [0, 2, 1, 0, 2, 1] and train["premise"][4] == 'A child reads "Matilda".'
    X, y = split_xy(load_fraud_frame(p))
    assert X.shape == (40, 30) and int(y.sum()) == 4
    model, tokenizer = load_nli_model(p.nli.model, num_labels=3, seed=0)
    assert model.config.hidden_size == 32 and model.config.num_labels == 3
    from grader.checks._thresholds import threshold

    assert threshold(p, "nli", "full") == 0.0 and threshold("paper", "nli", "full") == 0.40
    assert {key: threshold(p, "fraud", key) for key in ("pr_auc", "recall")} == {"pr_auc": 0.0, "recall": 0.0}


# ---------------------------------------------------------------------------------------------- one graded run


def test_a_rubric_override_changes_the_points_of_a_graded_result(monkeypatch):
    """The demo steps and checks (seconds): points and a switched-off check reach results.json,
    and a changed configuration regrades while an unchanged one is skipped."""
    from grader.run.sandbox import Limits

    with open_tmpdir() as tmp:
        monkeypatch.setenv("MIZAN_BUILD", str(tmp / "build"))
        inputs = prepare_demo_inputs(tmp / "in", tmp / "hb")
        sub = tmp / "amy"
        shutil.copytree(HERE / "honest", sub)
        smoke = get_profile("smoke")
        course = dataclasses.replace(smoke, rubric={"demo.count": {"points": 7.0},
                                                    "demo.adasyn_originals": {"enabled": False}},
                                     config="mizan.toml")
        kwargs = dict(tasks=("demo",), step_modules=(STEP_MODULE,), checks_dir=CHECKS_DIR, rubric_dir=RUBRIC_DIR,
                      inputs=inputs, limits=Limits(wall_s=60, address_space_mb=2048), feedback=False)
        out = tmp / "grades" / "amy"
        first = batch.grade_submission(sub, course, out, **kwargs)
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        scores = {t["number"]: (t["score"], t["max_score"]) for t in results["tests"]}
        assert scores["demo.count"] == (7.0, 7.0)
        assert "demo.adasyn_originals" not in scores
        assert results["extra_data"]["profile_values"]["rubric"]["demo.count"] == {"points": 7.0}
        assert json.loads((out / "profile.json").read_text())["rubric"] == course.rubric
        assert first.status == "graded"
        assert batch.grade_submission(sub, course, out, **kwargs).status == "skipped"
        changed = dataclasses.replace(course, rubric={"demo.count": {"points": 6.0}})
        assert batch.content_hash(sub, changed, ("demo",)) != batch.content_hash(sub, course, ("demo",))


def test_the_readme_example_validates_with_its_paths_made_real(tmp_path):
    """README's "Course configuration" block, its /data paths pointed at files this test writes."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8").split("## Course configuration", 1)[1]
    block = re.search(r"```toml\n(.*?)```", text, re.S).group(1)
    (tmp_path / "roberta-large").mkdir()
    (tmp_path / "roberta-large" / "config.json").write_text("{}")
    (tmp_path / "glue" / "MNLI").mkdir(parents=True)
    (tmp_path / "creditcard.csv").write_text("Time\n")
    p = load(write(tmp_path, block.replace("/data/", f"{tmp_path}/")))
    assert (p.name, p.nli.source, p.fraud.epochs, p.limits.address_space_mb) == ("paper", "glue-tsv", 46, 0)
    assert p.rubric["nli.accuracy_freeze"] == {"enabled": False}


def test_the_gradescope_zip_carries_the_course_configuration(tmp_path):
    import zipfile

    from grader import dist

    p = load(write(tmp_path, 'profile = "smoke"\n[nli]\nepochs = 3\n[thresholds.fraud]\nrecall = 0.2\n'))
    zipped = dist.build_gradescope_zip(tmp_path / "gs" / "autograder.zip", p)
    with zipfile.ZipFile(zipped) as zf:
        shipped = zf.read("mizan.toml").decode()
        run = zf.read("run_autograder").decode()
    assert shipped == course_toml(p)
    assert load(write(tmp_path, shipped, "shipped.toml")).fingerprint() == p.fingerprint()
    assert '${MIZAN_PROFILE:+--profile "$MIZAN_PROFILE"}' in run        # the file's profile unless one is named


@pytest.mark.slow
def test_the_reference_scores_full_marks_on_the_paper_profile_from_local_files(monkeypatch):
    """The issue's end-to-end run: the paper profile's code path on CPU (local model bound into the
    sandbox, GLUE TSVs, creditcard.csv), thresholds from the file: every check passes."""
    with open_tmpdir() as tmp:
        monkeypatch.setenv("MIZAN_BUILD", str(tmp / "build"))
        _paper_files(tmp, n_pairs=48, n_rows=400, n_fraud=40)
        for path in tmp.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        p = load(write(tmp, PAPER_CONFIG))
        summary = batch.grade_submission(batch.reference_submission(tmp / "build"), p, tmp / "grade",
                                         feedback=False)
        checks = json.loads((tmp / "grade" / "checks.json").read_text(encoding="utf-8"))["checks"]
        assert [c["name"] for c in checks if c["status"] != "passed"] == []
        assert (summary.status, summary.score) == ("graded", summary.max_score)
        assert json.loads((tmp / "grade" / "profile.json").read_text())["thresholds"]["nli"]["full"] == 0.0
