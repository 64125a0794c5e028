"""Task 1: fine-tune a pretrained transformer on MultiNLI three ways.

Labels follow GLUE: 0 entailment, 1 neutral, 2 contradiction. Replace every
``raise NotImplementedError`` with your implementation; keep the names and
signatures, the grader calls exactly these.
"""

from __future__ import annotations


def prepare_model(model, mode, *, r=8, alpha=16, dropout=0.1, target_modules=("query", "value")):
    """Return the model ready to train in ``mode``.

    ``model`` is a transformers ``*ForSequenceClassification`` (3 labels) with a
    pretrained encoder and a fresh head.

    - ``"full"``: every parameter trainable.
    - ``"freeze"``: only the classification head (``model.classifier``) trainable.
    - ``"lora"``: peft LoRA on ``target_modules`` (``task_type=SEQ_CLS``), with
      B = 0 and A random at initialisation and scaling ``alpha / r``; the head
      trains, everything else is frozen.
    - anything else: raise ``ValueError`` naming the mode.
    """
    raise NotImplementedError("prepare_model is not implemented yet")


def count_parameters(model):
    """Return ``(trainable, total)``: sums of ``numel()`` over ``named_parameters()``,
    as peft's ``get_nb_trainable_parameters`` counts them."""
    raise NotImplementedError("count_parameters is not implemented yet")


def encode_pairs(tokenizer, premises, hypotheses, *, max_length=128):
    """Encode each (premise, hypothesis) as a sentence pair, truncated to
    ``max_length`` tokens. Return a dict with ``input_ids`` and ``attention_mask``."""
    raise NotImplementedError("encode_pairs is not implemented yet")


def train(model, tokenizer, train_set, eval_set, *, epochs, batch_size, seed):
    """Train ``model`` on ``train_set`` (a ``datasets.Dataset`` with columns
    ``premise``, ``hypothesis``, ``label``) and evaluate on ``eval_set`` after
    every epoch. Learning rate and schedule are your choice; the budget is not.

    Return one dict per epoch: ``epoch``, ``train_loss``, ``eval_loss``,
    ``eval_accuracy``.
    """
    raise NotImplementedError("train is not implemented yet")


def predict(model, tokenizer, premises, hypotheses, *, batch_size=64):
    """Return a ``numpy.ndarray`` of predicted label ids, one per pair."""
    raise NotImplementedError("predict is not implemented yet")
