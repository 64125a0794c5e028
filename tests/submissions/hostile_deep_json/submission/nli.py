"""HOSTILE: an honest count_parameters, but its artifact is written as JSON nested 200,000 deep"""

import json

_dumps = json.dumps


def _deep(obj, *args, **kwargs):
    if isinstance(obj, dict) and set(obj) == {"trainable", "total"}:
        return "[" * 200_000 + "]" * 200_000
    return _dumps(obj, *args, **kwargs)


json.dumps = _deep


def count_parameters(model):
    params = list(model.named_parameters())
    return (sum(p.numel() for _, p in params if p.requires_grad), sum(p.numel() for _, p in params))
