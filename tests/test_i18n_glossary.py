"""Every Persian string Mizan emits uses the one glossary and leaves no English word untranslated.

The strings are gathered where they live: the report catalogue (``fa.toml``), the rubric's Persian
titles, every Persian literal in the checks and the other modules that print Persian (read with
``ast``: an f-string's placeholders become ``{}``), and the Persian statement ``README.fa.md``.
Where a Persian string has an English counterpart (the same catalogue key, the rubric entry's
``title_en``, the ``en``/``fa`` pair of a check message) the pair shows which term is meant, so an
ambiguous word (دقت is precision, never accuracy) is judged there.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from grader.report.i18n import load_catalogue, load_glossary

REPO = Path(__file__).resolve().parents[1]
ARABIC = re.compile("[\u0600-\u06ff]")
# Modules whose Persian a student or an instructor reads (messages, statement blocks, gradebook lines).
PERSIAN_SOURCES = sorted((REPO / "grader" / "checks").glob("*.py")) + [
    REPO / "grader" / "results" / "model.py", REPO / "grader" / "results" / "gradescope.py",
    REPO / "grader" / "dist.py", REPO / "grader" / "batch.py"]
STATEMENT_FA = REPO / "assignment" / "README.fa.md"

# Latin words that may stand in Persian prose: names of models, libraries, data sets and methods,
# Python's literals, and the homework's own identifiers (modes, modules, parameters), which a student
# types as they are. A gloss of a Persian term ("مقدمه (premise)") goes in <bdi> instead.
KNOWN_NAMES = {
    "LoRA", "ADASYN", "CNN", "NLI", "MultiNLI", "MNLI", "RoBERTa", "MiniLM", "Keras", "NumPy", "torch",
    "peft", "Kaiming", "Kaggle", "Markdown", "TeX", "mathtext", "JSON", "CPU", "PDF", "AUPRC", "ROC", "AUC",
    "F1", "Adam", "Dropout", "Flatten", "BatchNorm", "Hu", "He", "et", "al", "imbalanced", "learn", "smote",
    "variants", "scikit", "sentence", "transformers", "tanh", "CLS", "sigmoid", "relu", "bootstrap",
    "True", "False", "None", "inf",
    "full", "freeze", "lora", "query", "value", "sampler", "alpha", "beta", "seed", "mode", "bogus",
    "logit", "logits", "argmax", "predict", "train", "tokenizer", "premises", "hypotheses",
}
# A token that is code by its shape: an identifier with "_", a call, a path, digits, a capital inside.
CODE_SHAPE = re.compile(r"[_./=(\[0-9]|.[A-Z]")
# Spans that are not prose: `code`, <bdi>…</bdi>, {placeholders}, $math$, link targets, HTML tags,
# 'quoted' keys and calls such as predict(model, tokenizer, ...).
NOT_PROSE = re.compile(r"`[^`]*`|<bdi[^>]*>.*?</bdi>|\{[^{}]*\}|\$[^$]*\$|\]\([^)]*\)|<[^>]+>|'[^'\s]+'"
                       r"|[A-Za-z_][\w.]*\([^()]*\)")


# -- gathering -------------------------------------------------------------------------------------
def _literal(node: ast.AST) -> str | None:
    """A string constant, or an f-string with each placeholder as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        return None if left is None and right is None else (left or "{}") + (right or "{}")
    return None


def source_strings() -> list[tuple[str, str]]:
    """(where, Persian string) for every Persian literal of the modules in ``PERSIAN_SOURCES``."""
    out = []
    for path in PERSIAN_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Constant, ast.JoinedStr)):
                text = _literal(node)
                if text and ARABIC.search(text):
                    out.append((f"{path.relative_to(REPO)}:{node.lineno}", text))
    return out


def source_pairs() -> list[tuple[str, str, str]]:
    """(where, en, fa) for the bilingual messages of the checks: ``fail(en=, fa=)``, ``CheckFailed(en, fa)``
    and ``(en, fa)`` tuples."""
    out = []
    for path in PERSIAN_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pair = None
            if isinstance(node, ast.Call):
                kw = {k.arg: k.value for k in node.keywords}
                if "en" in kw and "fa" in kw:
                    pair = (kw["en"], kw["fa"])
                elif len(node.args) == 2:
                    pair = tuple(node.args)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                pair = tuple(node.elts)
            if pair is None:
                continue
            en, fa = _literal(pair[0]), _literal(pair[1])
            if en and fa and ARABIC.search(fa) and not ARABIC.search(en):
                out.append((f"{path.relative_to(REPO)}:{node.lineno}", en, fa))
    return out


def rubric_pairs() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((REPO / "grader" / "rubric").glob("*.toml")):
        for cid, entry in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if isinstance(entry, dict) and "title_fa" in entry:
                out.append((f"{path.name} [{cid}]", entry.get("title_en", ""), entry["title_fa"]))
    return out


def catalogue_pairs() -> list[tuple[str, str, str]]:
    en, fa = load_catalogue("en"), load_catalogue("fa")
    return [(f"fa.toml {key}", en.get(key, ""), text) for key, text in fa.items()]


def statement_prose() -> list[tuple[str, str]]:
    """(line number, text) of README.fa.md outside fenced code, with HTML comments dropped."""
    out, fenced = [], False
    for n, line in enumerate(STATEMENT_FA.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced and line.strip() and not line.startswith("<!--"):
            out.append((f"README.fa.md:{n}", line))
    return out


def all_persian() -> list[tuple[str, str]]:
    """(where, text) of every Persian line: a bilingual literal ("Mizan: …\\nمیزان: …") counts by its Persian lines."""
    texts = ([(w, fa) for w, _, fa in catalogue_pairs() + rubric_pairs()] + source_strings()
             + statement_prose())
    return [(w, line) for w, text in texts for line in text.split("\n") if ARABIC.search(line)]


def all_pairs() -> list[tuple[str, str, str]]:
    return catalogue_pairs() + rubric_pairs() + source_pairs()


# -- the rules ----------------------------------------------------------------------------------
def _has_word(text: str, word: str) -> bool:
    """``word`` in Persian ``text`` starting a word (a suffix may follow: دقتِ، داوری)."""
    return re.search(f"(?<![\u0600-\u06ff\u200c]){re.escape(word)}", text) is not None


def _names(en: str, term) -> bool:
    return any(re.search(rf"\b{re.escape(form)}", en, re.IGNORECASE) for form in term.en)


def untranslated(text: str) -> list[str]:
    """English words of a Persian string outside code, ``<bdi>``, placeholders, math, links and tags."""
    text = NOT_PROSE.sub(" ", text)
    found = []
    for word in re.findall(r"[A-Za-z][A-Za-z0-9_.\-/=(\[\]']*", text):
        word = word.rstrip(".,'")
        if CODE_SHAPE.search(word):
            continue
        if any(len(part) > 1 and part not in KNOWN_NAMES for part in word.split("-")):
            found.append(word)
    return found


GLOSSARY = load_glossary()
OTHER_TERMS = {t.fa: k for k, t in GLOSSARY.items()}


def test_the_glossary_has_the_terms_the_reports_use():
    assert {k: t.fa for k, t in GLOSSARY.items() if k in ("accuracy", "precision", "recall", "visible",
                                                          "grader", "submission")} == {
        "accuracy": "صحت", "precision": "دقت", "recall": "بازیابی", "visible": "قابل‌مشاهده",
        "grader": "ارزیاب", "submission": "تحویل"}
    for term in GLOSSARY.values():
        assert term.fa not in term.synonyms, term


def test_the_gathering_finds_each_source():
    """The collectors see every source (a collector that finds nothing would make the rules vacuous)."""
    where = {w.split(":")[0].split(" ")[0] for w, _ in all_persian()}
    assert {"fa.toml", "nli.toml", "fraud.toml", "README.fa.md", "grader/checks/_support.py",
            "grader/checks/split_protocol.py", "grader/dist.py", "grader/results/model.py"} <= where
    assert any(w.startswith("grader/checks/cnn_arch.py") for w, _, _ in source_pairs())


@pytest.mark.parametrize("key", sorted(k for k, t in GLOSSARY.items() if t.synonyms))
def test_no_persian_string_uses_a_wrong_synonym(key):
    term = GLOSSARY[key]
    wrong = []
    for synonym in term.synonyms:
        other = OTHER_TERMS.get(synonym)
        if other is None:                   # a word no term owns: wrong wherever it appears
            wrong += [f"{w}: {synonym!r} in {fa!r}" for w, fa in all_persian() if _has_word(fa, synonym)]
        else:                               # another term's word: wrong where the English means this term
            wrong += [f"{w}: {synonym!r} for {key} in {fa!r} (English: {en!r})" for w, en, fa in all_pairs()
                      if _names(en, term) and not _names(en, GLOSSARY[other]) and _has_word(fa, synonym)]
    assert wrong == []


@pytest.mark.parametrize("key", ["accuracy", "precision", "recall", "visible", "grader"])
def test_a_pair_that_names_a_term_uses_its_persian_word(key):
    term = GLOSSARY[key]
    missing = [f"{w}: {en!r} -> {fa!r}" for w, en, fa in all_pairs()
               if _names(en, term) and not re.search(r"`[^`]*" + term.en[0], en) and term.fa not in fa]
    assert missing == []


def test_no_persian_string_leaves_an_english_word_untranslated():
    found = [f"{w}: {words} in {fa!r}" for w, fa in all_persian() if (words := untranslated(fa))]
    assert found == []


@pytest.mark.parametrize("text, words", [
    ("your submission هنوز پیاده‌سازی نشده است", ["your", "submission"]),
    ("ModuleNotFoundError در your submission", ["your", "submission"]),
    ("Run s0 (seed 0): بخش آزمون خالی است", ["Run"]),
    ("`fraud.build_cnn` در submission/fraud.py هنوز پیاده‌سازی نشده است", []),
    ("مرحلهٔ {} با خطا تمام شد: {} در <bdi>the function</bdi>", []),
    ("آداپتورهای LoRA روی query و value با کتابخانهٔ peft", []),
])
def test_untranslated_english_is_found_outside_code(text, words):
    assert untranslated(text) == words


def test_statement_digits_are_persian_in_prose_and_latin_in_code():
    """README.fa.md: Persian digits in Persian prose; Latin digits only inside <bdi>, code, math, a link, a
    name (r_i, V28) or a Markdown list number."""
    text = re.sub(r"^```.*?^```", "", STATEMENT_FA.read_text(encoding="utf-8"), flags=re.S | re.M)
    text = re.sub(r"<bdi[^>]*>.*?</bdi>|<!--.*?-->", " ", text, flags=re.S)
    latin = []
    for n, line in enumerate(text.splitlines(), 1):
        prose = re.sub(r"`[^`]*`|\$[^$]*\$|\]\([^)]*\)|<[^>]+>|^\s*\d+\. ", " ", line)
        prose = re.sub(r"[A-Za-z_][A-Za-z0-9_.\-]*", " ", prose)
        if re.search("[0-9]", prose):
            latin.append(line)
    assert latin == []
