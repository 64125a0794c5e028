"""The NLI sets a configuration asks for: two disjoint generated sets, or MultiNLI's train and evaluation split.

The generator is ``grader.data.nli_synthetic``, the real files' readers
``grader.data.mnli``; both return the same columns and GLUE label ids.
Nothing heavy is imported at module level, so ``grader.cli`` can import this
without torch.
"""

from __future__ import annotations

from grader.data.mnli import load_mnli
from grader.data.nli_synthetic import generate_nli


def load_nli_splits(nli_cfg) -> tuple["datasets.Dataset", "datasets.Dataset"]:  # noqa: F821
    """(train, eval) for an ``NLIConfig``: two disjoint generated sets, or MNLI train + ``eval_split``.

    Generated sets use seeds 2·seed and 2·seed + 1 so no two configurations
    share a stream, and the evaluation set excludes every training pair.
    """
    if nli_cfg.source == "generated":
        train = generate_nli(nli_cfg.n_train, seed=2 * nli_cfg.seed)
        train_pairs = set(zip(train["premise"], train["hypothesis"]))
        evaluation = generate_nli(nli_cfg.n_eval, seed=2 * nli_cfg.seed + 1, exclude=train_pairs)
        assert train_pairs.isdisjoint(zip(evaluation["premise"], evaluation["hypothesis"]))
        return train, evaluation
    train = load_mnli(nli_cfg.source, "train", path=nli_cfg.data_path, n=nli_cfg.n_train, seed=nli_cfg.seed)
    evaluation = load_mnli(nli_cfg.source, nli_cfg.eval_split, path=nli_cfg.data_path, n=nli_cfg.n_eval,
                           seed=nli_cfg.seed)
    return train, evaluation
