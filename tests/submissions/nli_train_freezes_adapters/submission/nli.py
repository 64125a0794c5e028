"""Gallery (faulty): train() freezes the LoRA adapters ('keep the pretrained attention, train the head').

The gallery base tests/submissions/nli_correct with this one mistake (marked MISTAKE).
"""

import math
import warnings

import numpy as np

MODES = ("full", "freeze", "lora")


def prepare_model(model, mode, *, r=8, alpha=16, dropout=0.1, target_modules=("query", "value")):
    if mode == "full":
        return _full(model)
    if mode == "freeze":
        return _freeze(model)
    if mode == "lora":
        return _lora(model, r, alpha, dropout, target_modules)
    raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")


def _full(model):
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def _freeze(model):
    for param in model.parameters():
        param.requires_grad_(False)
    for param in model.classifier.parameters():
        param.requires_grad_(True)
    return model


def _lora(model, r, alpha, dropout, target_modules):
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(target_modules))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(model, config)


def count_parameters(model):
    trainable = total = 0
    for _, param in model.named_parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total


def encode_pairs(tokenizer, premises, hypotheses, *, max_length=128):
    encoded = tokenizer(list(premises), list(hypotheses), truncation=True, max_length=max_length)
    return {key: encoded[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded}


def _batch(tokenizer, encoded, index):
    rows = [{key: values[i] for key, values in encoded.items()} for i in index]
    return tokenizer.pad(rows, return_tensors="pt")


def _learning_rate(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lora = any("lora_" in name for name, _ in model.named_parameters())
    big = total > 10_000_000
    if lora:
        return 1e-3 if big else 3e-3
    if trainable == total:
        return 1e-4 if big else 1e-3
    return 2e-3 if big else 3e-3


def _evaluate(model, tokenizer, dataset, batch_size):
    import torch

    encoded = encode_pairs(tokenizer, dataset["premise"], dataset["hypothesis"])
    labels = torch.tensor(dataset["label"])
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            index = range(start, min(start + batch_size, len(labels)))
            out = model(**_batch(tokenizer, encoded, index), labels=labels[start:start + len(index)])
            loss_sum += float(out.loss) * len(index)
            correct += int((out.logits.argmax(-1) == labels[start:start + len(index)]).sum())
    return loss_sum / len(labels), correct / len(labels)


def train(model, tokenizer, train_set, eval_set, *, epochs, batch_size, seed):
    import torch
    from transformers import get_linear_schedule_with_warmup, set_seed

    set_seed(seed)
    for name, param in model.named_parameters():
        if "lora_" in name:  # MISTAKE: the adapters never train, so LoRA fine-tunes nothing but the head
            param.requires_grad_(False)
    encoded = encode_pairs(tokenizer, train_set["premise"], train_set["hypothesis"])
    labels = torch.tensor(train_set["label"])
    n = len(labels)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=_learning_rate(model), weight_decay=0.01)
    steps = epochs * math.ceil(n / batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(0.06 * steps), steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum = 0.0
        for index in torch.randperm(n, generator=generator).split(batch_size):
            loss = model(**_batch(tokenizer, encoded, index.tolist()), labels=labels[index]).loss
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += float(loss) * len(index)
        eval_loss, eval_accuracy = _evaluate(model, tokenizer, eval_set, batch_size)
        history.append({"epoch": epoch, "train_loss": loss_sum / n, "eval_loss": eval_loss,
                        "eval_accuracy": eval_accuracy})
    model.eval()
    return history


def predict(model, tokenizer, premises, hypotheses, *, batch_size=64):
    import torch

    encoded = encode_pairs(tokenizer, premises, hypotheses)
    n = len(encoded["input_ids"])
    predictions = np.zeros(n, dtype=np.int64)
    model.eval()
    with torch.no_grad():
        for start in range(0, n, batch_size):
            index = range(start, min(start + batch_size, n))
            predictions[start:start + len(index)] = model(**_batch(tokenizer, encoded, index)).logits.argmax(-1).numpy()
    return predictions
