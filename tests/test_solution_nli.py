"""The reference solution of task 1 (solutions/nli.py) on the smoke profile and meta-device models.

Counts are exact. RoBERTa-large (Liu et al. 2019): 24 layers, hidden 1024; its
head is RobertaClassificationHead, dense 1024x1024 + out_proj 1024x3 =
1,049,600 + 3,075 = 1,052,675. LoRA (Hu et al. 2021 §4) on query and value adds
A (r x d) and B (d x r) per matrix: 24 layers x 2 matrices x r x (1024 + 1024)
= 98,304 r, and peft keeps the original head beside its trainable copy, so the
total grows by 98,304 r + 1,052,675 too. peft's get_peft_model works on the
meta device (it only reads shapes and makes new meta tensors), so no weights
are ever allocated.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from grader.data.nli_synthetic import generate_nli
from grader.models import load_nli_model, minilm_meta, minilm_path, roberta_large_meta
from grader.profiles import get_profile
from solutions import nli

SMOKE = get_profile("smoke").nli
ROBERTA_LARGE_TOTAL = 355_362_819
ROBERTA_LARGE_HEAD = 1_052_675


@pytest.fixture(scope="module")
def data():
    return generate_nli(SMOKE.n_train, seed=0), generate_nli(SMOKE.n_eval, seed=1)


def tiny(mode, **lora):
    model, tokenizer = load_nli_model("tiny-roberta", seed=0)
    torch.manual_seed(0)
    return nli.prepare_model(model, mode, **lora), tokenizer


def trainable_names(model):
    return {name for name, param in model.named_parameters() if param.requires_grad}


# ----------------------------------------------------------------------------- trainable sets


def test_full_trains_every_parameter():
    model, _ = load_nli_model("tiny-roberta", seed=0)
    model.roberta.embeddings.requires_grad_(False)  # even weights frozen before are trained
    model = nli.prepare_model(model, "full")
    # embeddings 5 (word, position, token type, LayerNorm w/b) + 2 layers x 16 + head 4
    assert trainable_names(model) == {name for name, _ in model.named_parameters()}
    assert len(trainable_names(model)) == 5 + 2 * 16 + 4


def test_freeze_trains_exactly_the_roberta_head():
    model, _ = tiny("freeze")
    assert trainable_names(model) == {"classifier.dense.weight", "classifier.dense.bias",
                                      "classifier.out_proj.weight", "classifier.out_proj.bias"}


def test_lora_trains_adapters_on_query_value_and_the_head_copy():
    model, _ = tiny("lora")
    adapters = {f"base_model.model.roberta.encoder.layer.{layer}.attention.self.{target}.lora_{ab}.default.weight"
                for layer in range(2) for target in ("query", "value") for ab in "AB"}
    head = {f"base_model.model.classifier.modules_to_save.default.{linear}.{kind}"
            for linear in ("dense", "out_proj") for kind in ("weight", "bias")}
    assert trainable_names(model) == adapters | head


def test_lora_target_modules_are_configurable():
    model, _ = tiny("lora", target_modules=("query", "key", "value", "dense"))
    names = trainable_names(model)
    assert sum(".lora_A." in name for name in names) == 2 * 3 + 2 * 3  # per layer: q, k, v, 3 dense
    assert not any("classifier.original_module" in name for name in names)


def test_unknown_mode_raises_value_error():
    model, _ = load_nli_model("tiny-roberta", seed=0)
    with pytest.raises(ValueError, match=r"unknown mode 'bitfit': choose one of 'full', 'freeze', 'lora'"):
        nli.prepare_model(model, "bitfit")


# ----------------------------------------------------------------------------- exact counts


def test_roberta_large_meta_full_and_freeze():
    assert nli.count_parameters(nli.prepare_model(roberta_large_meta(), "full")) == (
        ROBERTA_LARGE_TOTAL, ROBERTA_LARGE_TOTAL)
    assert nli.count_parameters(nli.prepare_model(roberta_large_meta(), "freeze")) == (
        1_052_675, 355_362_819)


@pytest.mark.parametrize(("r", "trainable", "total"), [
    (8, 1_839_107, 357_201_926),    # DESIGN.md
    (32, 4_198_403, 359_561_222),   # the original homework report
])
def test_roberta_large_meta_lora_report_numbers(r, trainable, total):
    model = nli.prepare_model(roberta_large_meta(), "lora", r=r, alpha=2 * r)
    assert nli.count_parameters(model) == (trainable, total)
    assert nli.count_parameters(model) == model.get_nb_trainable_parameters()


@pytest.mark.parametrize("r", [1, 2, 4, 16, 64])
def test_roberta_large_meta_lora_formula(r):
    model = nli.prepare_model(roberta_large_meta(), "lora", r=r)
    added = 24 * 2 * r * (1024 + 1024)
    assert added == 98_304 * r
    assert nli.count_parameters(model) == (
        added + ROBERTA_LARGE_HEAD, ROBERTA_LARGE_TOTAL + added + ROBERTA_LARGE_HEAD)


@pytest.mark.parametrize("r", [1, 4, 8, 32])
def test_minilm_meta_counts(r):
    # all-MiniLM-L6-v2 is a BERT: 6 layers, hidden 384, 22,713,216 weights; its head
    # (BertForSequenceClassification.classifier) is one Linear 384x3: 1,155. LoRA on
    # query+value adds 6 x 2 x r x (384 + 384) = 9,216 r; peft adds the head copy.
    config = minilm_meta().config
    assert (config.num_hidden_layers, config.hidden_size) == (6, 384)
    total, head = 22_714_371, 384 * 3 + 3
    assert nli.count_parameters(nli.prepare_model(minilm_meta(), "full")) == (total, total)
    assert nli.count_parameters(nli.prepare_model(minilm_meta(), "freeze")) == (head, total)
    added = 6 * 2 * r * (384 + 384)
    assert added == 9_216 * r
    lora = nli.prepare_model(minilm_meta(), "lora", r=r)
    assert nli.count_parameters(lora) == (added + head, total + added + head)


def test_tiny_roberta_real_tensors_follow_the_same_formula():
    # Cross-check on allocated weights: 2 layers, hidden 32: LoRA adds 2 x 2 x r x 64 = 256 r;
    # head 32x32+32 + 32x3+3 = 1,155.
    base, _ = load_nli_model("tiny-roberta", seed=0)
    total = sum(p.numel() for p in base.parameters())
    model, _ = tiny("lora", r=4)
    assert nli.count_parameters(model) == (256 * 4 + 1_155, total + 256 * 4 + 1_155)


# ----------------------------------------------------------------------------- LoRA initialisation


def test_lora_init_b_zero_a_random_scaling_alpha_over_r():
    model, _ = tiny("lora", r=4, alpha=16)
    lora_layers = [m for m in model.modules() if hasattr(m, "lora_A") and "default" in m.lora_A]
    assert len(lora_layers) == 4
    for layer in lora_layers:
        assert torch.equal(layer.lora_B["default"].weight, torch.zeros_like(layer.lora_B["default"].weight))
        assert layer.lora_A["default"].weight.abs().min() > 0
        assert layer.lora_A["default"].weight.shape == (4, 32)
        assert layer.scaling["default"] == 4.0


def test_lora_model_starts_at_the_pretrained_function():
    base, tokenizer = load_nli_model("tiny-roberta", seed=0)
    batch = tokenizer(["A dog runs."], ["An animal moves."], return_tensors="pt")
    with torch.no_grad():
        before = base(**batch).logits
        model = nli.prepare_model(copy.deepcopy(base), "lora").eval()
        after = model(**batch).logits
    torch.testing.assert_close(after, before, rtol=0, atol=0)


# ----------------------------------------------------------------------------- encoding


def test_encode_pairs_roberta_pair_structure_and_truncation():
    _, tokenizer = load_nli_model("tiny-roberta", seed=0)
    premise, hypothesis = "A man is walking his dog in the park today.", "A person is outside."
    enc = nli.encode_pairs(tokenizer, [premise], [hypothesis])
    assert set(enc) == {"input_ids", "attention_mask"}  # RoBERTa has no token types
    ids = enc["input_ids"][0]
    assert (tokenizer.bos_token_id, tokenizer.sep_token_id) == (0, 2)
    assert ids[0] == 0 and ids[-1] == 2 and ids.count(2) == 3
    middle = ids.index(2)
    assert ids[middle + 1] == 2  # <s> premise </s></s> hypothesis </s>
    assert tokenizer.decode(ids[1:middle]) == premise
    assert tokenizer.decode(ids[middle + 2:-1]) == hypothesis
    assert enc["attention_mask"][0] == [1] * len(ids) == [1] * 20
    short = nli.encode_pairs(tokenizer, [premise], [hypothesis], max_length=10)["input_ids"][0]
    # longest_first: the longer premise loses tokens first, both sentences survive.
    assert tokenizer.convert_ids_to_tokens(short) == [
        "<s>", "A", "\u0120man", "\u0120is", "</s>", "</s>", "A", "\u0120person", "\u0120is", "</s>"]


def test_encode_pairs_bert_token_types_and_truncation():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    enc = nli.encode_pairs(tokenizer, ["a cat sleeps", "the sun is very bright today"], ["a cat rests", "it is dark"],
                           max_length=8)
    assert set(enc) == {"input_ids", "attention_mask", "token_type_ids"}
    tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in enc["input_ids"]]
    assert tokens == [["[CLS]", "a", "cat", "[SEP]", "a", "cat", "rests", "[SEP]"],
                      ["[CLS]", "the", "sun", "is", "[SEP]", "it", "is", "[SEP]"]]
    assert enc["token_type_ids"] == [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1]]
    assert nli.encode_pairs(tokenizer, ["a cat"], ["a dog"])["input_ids"][0] == tokenizer("a cat", "a dog")["input_ids"]


def test_encode_pairs_rejects_unequal_lengths():
    _, tokenizer = load_nli_model("tiny-roberta", seed=0)
    with pytest.raises(ValueError, match="2 premises but 1 hypotheses"):
        nli.encode_pairs(tokenizer, ["a", "b"], ["c"])


# ----------------------------------------------------------------------------- training and prediction


def smoke_train(mode, data, seed=0, epochs=SMOKE.epochs):
    model, tokenizer = tiny(mode)
    train_set, eval_set = data
    history = nli.train(model, tokenizer, train_set, eval_set, epochs=epochs, batch_size=SMOKE.batch_size, seed=seed)
    return model, tokenizer, history


@pytest.mark.parametrize("mode", ["full", "freeze", "lora"])
def test_short_training_lowers_the_training_loss(mode, data):
    _, _, history = smoke_train(mode, data, epochs=3)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert all(set(h) == {"epoch", "train_loss", "eval_loss", "eval_accuracy"} for h in history)
    assert all(type(v) is float for h in history for k, v in h.items() if k != "epoch")
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(0.0 <= h["eval_accuracy"] <= 1.0 for h in history)


def test_same_seed_same_history_and_predictions(data):
    model_a, tokenizer, first = smoke_train("lora", data, seed=3)
    model_b, _, second = smoke_train("lora", data, seed=3)
    assert first == second
    eval_set = data[1]
    np.testing.assert_array_equal(nli.predict(model_a, tokenizer, eval_set["premise"], eval_set["hypothesis"]),
                                  nli.predict(model_b, tokenizer, eval_set["premise"], eval_set["hypothesis"]))
    _, _, other = smoke_train("lora", data, seed=4)
    assert other != first


def test_freeze_training_leaves_the_encoder_bit_identical(data):
    pretrained, _ = load_nli_model("tiny-roberta", seed=0)
    model, _, _ = smoke_train("freeze", data)
    before, after = pretrained.state_dict(), model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"classifier.dense.weight", "classifier.dense.bias",
                       "classifier.out_proj.weight", "classifier.out_proj.bias"}


def _dropout_rates_seen_in_training(mode, data):
    """(encoder rates, head rates) that the dropout layers applied in training, and the model after."""
    model, tokenizer = tiny(mode)
    seen = {"encoder": set(), "head": set()}

    def record(part):
        def hook(module, _inputs, _output):   # returns None: the output is left alone
            if module.training:
                seen[part].add(module.p)
        return hook

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout):
            module.register_forward_hook(record("head" if "classifier" in name else "encoder"))
    train_set, eval_set = data
    nli.train(model, tokenizer, train_set, eval_set, epochs=1, batch_size=SMOKE.batch_size, seed=0)
    return seen, model


def test_a_frozen_encoder_trains_without_dropout_and_gets_its_rates_back(data):
    seen, model = _dropout_rates_seen_in_training("freeze", data)
    assert seen == {"encoder": {0.0}, "head": {0.1}}
    assert {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    assert len(nli._frozen_encoder_dropouts(model)) == 7      # embeddings + 3 per layer, 2 layers
    seen, _ = _dropout_rates_seen_in_training("lora", data)   # adapters train inside the encoder
    assert seen == {"encoder": {0.1}, "head": {0.1}}
    assert nli._frozen_encoder_dropouts(tiny("full")[0]) == []


def test_lora_training_moves_only_adapters_and_head_copy(data):
    pretrained, _ = load_nli_model("tiny-roberta", seed=0)
    model, _, _ = smoke_train("lora", data)
    merged = model.merge_and_unload().state_dict()
    changed = {name for name, value in pretrained.state_dict().items() if not torch.equal(value, merged[name])}
    assert changed == {f"roberta.encoder.layer.{layer}.attention.self.{target}.weight"
                       for layer in range(2) for target in ("query", "value")} | {
        "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"}


def test_predict_returns_label_ids_in_input_order(data):
    model, tokenizer, _ = smoke_train("full", data, epochs=1)
    eval_set = data[1]
    premises, hypotheses = list(eval_set["premise"]), list(eval_set["hypothesis"])
    predictions = nli.predict(model, tokenizer, premises, hypotheses, batch_size=5)
    assert isinstance(predictions, np.ndarray) and predictions.dtype == np.int64
    assert predictions.shape == (len(premises),)
    expected = []
    with torch.no_grad():
        for p, h in zip(premises, hypotheses):  # one pair at a time: no padding, no batching order
            expected.append(int(model(**tokenizer(p, h, return_tensors="pt")).logits.argmax()))
    np.testing.assert_array_equal(predictions, expected)
    assert nli.predict(model, tokenizer, [], []).shape == (0,)


# ----------------------------------------------------------------------------- budgets of the experiments
# The reference has no command line of its own: `grader experiments` runs it like any submission
# (tests/test_experiments.py).


def test_lora_paper_budget_is_the_lora_papers_mnli_setting():
    from grader.profiles import LORA_PAPER_NLI

    assert (LORA_PAPER_NLI.model, LORA_PAPER_NLI.lora_r, LORA_PAPER_NLI.lora_alpha, LORA_PAPER_NLI.lora_learning_rate,
            LORA_PAPER_NLI.warmup_ratio, LORA_PAPER_NLI.max_length, LORA_PAPER_NLI.epochs, LORA_PAPER_NLI.n_train) == (
        "roberta-large", 8, 16, 3e-4, 0.06, 128, 10, 392_702)
    homework = get_profile("paper").nli
    assert (homework.n_train, homework.epochs, homework.eval_split, homework.lora_r) == (
        1000, 5, "validation_mismatched", 32)
