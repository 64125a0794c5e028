"""The homework's 1D CNN, read from ``model.to_json()`` (no model is rebuilt or run here).

Sequential and functional models are both accepted: the layer graph is
flattened to the chain it must be, nested models are expanded, and a separate
``Activation``/``ReLU`` layer after a linear layer is folded into it. The layer
sequence (with parameter counts), the dropout rates, the optimizer and the loss
are four checks, so each mistake costs the one it is about.
"""

from __future__ import annotations

import math

import pytest

from grader.checks._fraud_common import report
from grader.checks._support import CheckFailed, fail

STEP = "fraud.cnn_arch"
N_FEATURES = 30
EXPECTED_LAYERS = ("Conv1D(32, 2, relu)", "BatchNormalization", "MaxPooling1D(2)", "Dropout",
                   "Conv1D(64, 2, relu)", "BatchNormalization", "MaxPooling1D(2)", "Dropout", "Flatten",
                   "Dense(64, relu)", "Dropout", "Dense(64, relu)", "Dense(1, sigmoid)")
EXPECTED_DROPOUT = (0.2, 0.5, 0.5)
EXPECTED_PARAMS, EXPECTED_NON_TRAINABLE = 33_505, 192
EXPECTED_LR = 1e-4
WHERE_EN = "build_cnn in submission/fraud.py"
WHERE_FA = "build_cnn در submission/fraud.py"
ALIASES = {"MaxPool1D": "MaxPooling1D", "Convolution1D": "Conv1D"}


def _ints(value) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),)


def _activation(config: dict) -> str:
    act = config.get("activation", "linear")
    if isinstance(act, dict):                         # a serialised activation object
        act = act.get("config", {}).get("name") or act.get("class_name", "?")
    return str(act).lower()


def flatten_layers(model_json: dict) -> tuple[list[dict], list | None]:
    """The chain of layers (class_name, config) of a Sequential/Functional JSON, and the input shape."""
    layers: list[dict] = []
    input_shape = None

    def visit(node: dict) -> None:
        nonlocal input_shape
        cls = node.get("class_name")
        config = node.get("config", {}) or {}
        if cls in ("Sequential", "Functional", "Model"):
            inner = config.get("layers", [])
            if cls != "Sequential":
                _require_chain(inner, config)
            for layer in inner:
                visit(layer)
            return
        if cls == "InputLayer":
            shape = config.get("batch_shape") or config.get("batch_input_shape")
            if input_shape is None and shape is not None:
                input_shape = list(shape)[1:]
            return
        layers.append({"class_name": ALIASES.get(cls, cls), "config": config})

    visit(model_json)
    if input_shape is None:
        build = model_json.get("build_config", {}) or {}
        shape = build.get("input_shape")
        if shape:
            input_shape = list(shape)[1:]
    return layers, input_shape


def _inbound_names(layer: dict) -> list[str]:
    names = []

    def walk(obj):
        if isinstance(obj, dict):
            if "keras_history" in obj.get("config", {}):
                names.append(obj["config"]["keras_history"][0])
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            if len(obj) == 4 and isinstance(obj[0], str) and isinstance(obj[1], int):
                names.append(obj[0])               # Keras 2 style [name, node, tensor, kwargs]
            for value in obj:
                walk(value)

    walk(layer.get("inbound_nodes", []))
    return names


def _require_chain(layers: list[dict], config: dict) -> None:
    """A functional model must be the single chain the assignment asks for (no branches)."""
    previous = None
    for layer in layers:
        inbound = _inbound_names(layer)
        if previous is not None and inbound != [previous]:
            raise CheckFailed(
                f"Expected a single chain of layers; layer {layer.get('name')!r} takes its input from "
                f"{inbound or 'nothing'} instead of {previous!r}. Look at {WHERE_EN}.",
                f"انتظار یک زنجیرهٔ ساده از لایه‌ها می‌رفت؛ ورودی لایهٔ {layer.get('name')!r} از {inbound} است "
                f"نه از {previous!r}. {WHERE_FA} را بررسی کنید.")
        previous = layer.get("name")


def describe(layer: dict) -> str:
    """A layer as the assignment writes it: ``Conv1D(32, 2, relu)``, ``MaxPooling1D(2)``, ``Dropout``."""
    cls, c = layer["class_name"], layer["config"]
    extras = []
    if c.get("use_bias") is False:
        extras.append("no bias")
    if cls == "Conv1D":
        if _ints(c.get("strides", 1)) != (1,):
            extras.append(f"strides={_ints(c['strides'])[0]}")
        if c.get("padding", "valid") != "valid":
            extras.append(f"padding={c['padding']}")
        if _ints(c.get("dilation_rate", 1)) != (1,):
            extras.append(f"dilation={_ints(c['dilation_rate'])[0]}")
        base = f"Conv1D({c.get('filters')}, {_ints(c.get('kernel_size'))[0]}, {_activation(c)}"
        return base + "".join(f", {e}" for e in extras) + ")"
    if cls in ("MaxPooling1D", "AveragePooling1D"):
        pool = _ints(c.get("pool_size", 2))[0]
        strides = c.get("strides")
        if strides is not None and _ints(strides)[0] != pool:
            extras.append(f"strides={_ints(strides)[0]}")
        if c.get("padding", "valid") != "valid":
            extras.append(f"padding={c['padding']}")
        return f"{cls}({pool}" + "".join(f", {e}" for e in extras) + ")"
    if cls == "Dense":
        return f"Dense({c.get('units')}, {_activation(c)}" + "".join(f", {e}" for e in extras) + ")"
    if cls == "BatchNormalization":
        if c.get("center") is False:
            extras.append("center=False")
        if c.get("scale") is False:
            extras.append("scale=False")
        if c.get("trainable") is False:
            extras.append("frozen")
        return "BatchNormalization" + (f"({', '.join(extras)})" if extras else "")
    if cls in ("Activation", "ReLU"):
        return f"Activation({_activation(c) if cls == 'Activation' else 'relu'})"
    return cls


def fold_activations(layers: list[dict]) -> list[dict]:
    """Merge ``Activation(a)``/``ReLU()`` into a preceding linear Conv1D/Dense."""
    out: list[dict] = []
    for layer in layers:
        cls = layer["class_name"]
        if cls in ("Activation", "ReLU") and out and out[-1]["class_name"] in ("Conv1D", "Dense") \
                and _activation(out[-1]["config"]) == "linear":
            act = _activation(layer["config"]) if cls == "Activation" else "relu"
            out[-1] = {"class_name": out[-1]["class_name"], "config": {**out[-1]["config"], "activation": act}}
            continue
        out.append(layer)
    return out


def model_layers(ctx) -> tuple[list[dict], list | None]:
    model_json = ctx.artifact_json("fraud/cnn_model.json", step=STEP)     # malformed / too deep: CheckFailed
    if not isinstance(model_json, dict):
        raise CheckFailed(f"fraud/cnn_model.json holds a {type(model_json).__name__}, not model.to_json()'s "
                          f"object.", f"fraud/cnn_model.json به جای شیء model.to_json() یک "
                          f"{type(model_json).__name__} دارد.")
    layers, input_shape = flatten_layers(model_json)
    return fold_activations(layers), input_shape


def _sequence_diff(found: list[str], expected: tuple[str, ...]) -> str:
    import difflib

    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=list(expected), b=found, autojunk=False).get_opcodes():
        if op == "delete":
            parts.append(f"missing {', '.join(expected[i1:i2])} after layer {i1}")
        elif op == "insert":
            parts.append(f"extra {', '.join(found[j1:j2])} after layer {i1}")
        elif op == "replace":
            parts.append(f"{', '.join(found[j1:j2])} where {', '.join(expected[i1:i2])} belongs")
    return "; ".join(parts)


@pytest.mark.check("cnn.layers")
def test_layer_sequence_and_parameters(ctx):
    """Exactly the assignment's 13 layers on input (30, 1): 33,505 parameters, 192 non-trainable."""
    layers, input_shape = model_layers(ctx)
    found = [describe(layer) for layer in layers]
    problems = []
    if input_shape is not None and [None if v is None else int(v) for v in input_shape] != [N_FEATURES, 1]:
        problems.append((f"Expected input shape ({N_FEATURES}, 1) for build_cnn({N_FEATURES}); found "
                         f"{tuple(input_shape)}.",
                         f"برای build_cnn({N_FEATURES}) انتظار شکل ورودی ({N_FEATURES}, 1) می‌رفت؛ "
                         f"{tuple(input_shape)} به دست آمد."))
    if tuple(found) != EXPECTED_LAYERS:
        diff = _sequence_diff(found, EXPECTED_LAYERS)
        problems.append((f"Expected the layers {' → '.join(EXPECTED_LAYERS)}; found {' → '.join(found)} "
                         f"({diff}).",
                         f"انتظار لایه‌های {' → '.join(EXPECTED_LAYERS)} می‌رفت؛ {' → '.join(found)} به دست آمد "
                         f"({diff})."))
    else:
        counts = ctx.artifact_json("fraud/cnn.json", step=STEP)
        total, frozen = counts.get("total_params"), counts.get("non_trainable_params")
        if (total, frozen) != (EXPECTED_PARAMS, EXPECTED_NON_TRAINABLE):
            problems.append((f"Expected {EXPECTED_PARAMS:,} parameters ({EXPECTED_NON_TRAINABLE} non-trainable: "
                             f"the BatchNorm moving statistics); found {total} ({frozen} non-trainable).",
                             f"انتظار {EXPECTED_PARAMS:,} پارامتر ({EXPECTED_NON_TRAINABLE} غیرقابل‌آموزش) "
                             f"می‌رفت؛ {total} ({frozen} غیرقابل‌آموزش) به دست آمد."))
    report(problems, where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("cnn.dropout")
def test_dropout_rates(ctx):
    """Dropout 0.2 after the first block, 0.5 after the second and 0.5 between the Dense layers."""
    layers, _ = model_layers(ctx)
    rates = tuple(float(layer["config"].get("rate", math.nan)) for layer in layers
                  if layer["class_name"] == "Dropout")
    if len(rates) != len(EXPECTED_DROPOUT) or not all(math.isclose(a, b, abs_tol=1e-9)
                                                       for a, b in zip(rates, EXPECTED_DROPOUT)):
        report([(f"Expected Dropout rates {list(EXPECTED_DROPOUT)} in that order; found {list(rates)}.",
                 f"انتظار نرخ‌های Dropout {list(EXPECTED_DROPOUT)} به همین ترتیب می‌رفت؛ {list(rates)} به دست آمد.")],
               where_en=WHERE_EN, where_fa=WHERE_FA)


@pytest.mark.check("cnn.optimizer")
def test_adam_learning_rate(ctx):
    """Compiled with Adam at a constant learning rate of 1e-4."""
    opt = ctx.artifact_json("fraud/cnn.json", step=STEP).get("optimizer") or {}
    cls = opt.get("class")
    name = str((opt.get("config") or {}).get("name", "")).lower()
    lr = opt.get("learning_rate")
    problems = []
    if cls is None:
        problems.append(("Expected a compiled model (model.compile(optimizer=Adam(1e-4), ...)); found no optimizer.",
                         "انتظار مدل کامپایل‌شده می‌رفت (model.compile(optimizer=Adam(1e-4), ...))؛ بهینه‌سازی یافت نشد."))
    elif cls != "Adam" and name != "adam":
        problems.append((f"Expected the Adam optimizer; found {cls}.", f"انتظار بهینه‌ساز Adam می‌رفت؛ {cls} به دست آمد."))
    elif lr is None or not math.isclose(float(lr), EXPECTED_LR, rel_tol=1e-5):
        problems.append((f"Expected a learning rate of {EXPECTED_LR:g}; found {lr if lr is not None else 'a schedule'}.",
                         f"انتظار نرخ یادگیری {EXPECTED_LR:g} می‌رفت؛ {lr if lr is not None else 'یک زمان‌بندی'} "
                         f"به دست آمد."))
    report(problems, where_en=f"model.compile in {WHERE_EN}", where_fa=f"model.compile در {WHERE_FA}")


BCE_NAMES = {"binary_crossentropy", "binarycrossentropy", "bce"}


@pytest.mark.check("cnn.loss")
def test_binary_cross_entropy(ctx):
    """Compiled with binary cross-entropy on probabilities (from_logits=False: the output is a sigmoid)."""
    loss = ctx.artifact_json("fraud/cnn.json", step=STEP).get("loss") or {}
    kind, name, config = loss.get("kind"), str(loss.get("name") or ""), loss.get("config") or {}
    names = {name.lower(), str(config.get("name", "")).lower(), str(config.get("fn", "")).lower()}
    ok = bool(names & BCE_NAMES) and not config.get("from_logits", False)
    if not ok:
        fail(en=f"Expected loss='binary_crossentropy' (or keras.losses.BinaryCrossentropy() without logits); "
                f"found {kind} {name!r}{' with from_logits=True' if config.get('from_logits') else ''}. "
                f"Look at model.compile in {WHERE_EN}.",
             fa=f"انتظار loss='binary_crossentropy' (یا BinaryCrossentropy بدون logits) می‌رفت؛ {kind} {name!r} "
                f"به دست آمد. model.compile در {WHERE_FA} را بررسی کنید.")
