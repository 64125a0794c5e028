"""Honest count_parameters (the part every hostile demo submission keeps)."""


def count_parameters(model):
    params = list(model.named_parameters())
    return (sum(p.numel() for _, p in params if p.requires_grad), sum(p.numel() for _, p in params))
