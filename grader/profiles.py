"""Profiles: which model, which data and how much budget a run gets.

One profile object is shared by the reference solutions, the grader and the
report, and is serialised into every results JSON so a report states exactly
what produced it (the way peft's ``LoraConfig`` travels with an adapter).

``smoke`` is for Mizan's own tests (seconds), ``cpu`` is the offline default
(``make grade``), ``paper`` is the full-scale GPU configuration.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from grader.errors import ProfileError
from grader.homework import NLI_MODES

NLI_MODELS = ("tiny-roberta", "minilm", "roberta-large")
NLI_SOURCES = ("generated", "hub", "glue-tsv", "multinli-jsonl")
FRAUD_SOURCES = ("generated", "csv")
THRESHOLD_KEYS = {"nli": NLI_MODES, "fraud": ("pr_auc", "recall")}
"""Metric thresholds a course may set (``[thresholds.nli]`` per mode, ``[thresholds.fraud]`` per metric):
lower bounds of 95 % intervals in [0, 1], read by grader/checks/_thresholds.py (configured, else measured)."""
RUBRIC_KEYS = ("points", "visibility", "enabled")
"""What a course may override of a rubric entry (``[rubric."<check id>"]``); titles stay Mizan's."""


def _positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        if value is None or value <= 0:
            raise ProfileError(f"{owner}.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class NLIConfig:
    """Task 1 budget. ``model`` is a name from NLI_MODELS or a local folder."""

    model: str = field(metadata={"help": "tiny-roberta | minilm | roberta-large | path to a local model folder"})
    source: str = field(default="generated", metadata={"help": "generated | hub | glue-tsv | multinli-jsonl"})
    data_path: str | None = field(default=None, metadata={"help": "folder or file for glue-tsv / multinli-jsonl"})
    eval_split: str = field(default="validation_matched", metadata={"help": "MNLI split used for evaluation"})
    n_train: int = field(default=1000, metadata={"help": "training examples (None-like 0 is not allowed)"})
    n_eval: int = field(default=500, metadata={"help": "evaluation examples"})
    epochs: int = 3
    batch_size: int = 16
    max_length: int = 128
    learning_rate: float = field(default=5e-5, metadata={"help": "reference solution's LR for full/freeze"})
    lora_learning_rate: float = field(default=5e-4, metadata={"help": "reference solution's LR for LoRA"})
    warmup_ratio: float = 0.06
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in NLI_MODELS and not os.path.isdir(self.model):
            raise ProfileError(
                f"nli.model={self.model!r} is neither one of {', '.join(NLI_MODELS)} nor an existing folder"
            )
        if self.source not in NLI_SOURCES:
            raise ProfileError(f"nli.source={self.source!r}: choose one of {', '.join(NLI_SOURCES)}")
        if self.source in ("glue-tsv", "multinli-jsonl") and not self.data_path:
            raise ProfileError(f"nli.source={self.source!r} needs nli.data_path (the folder or file of MNLI): "
                               f"set it in the course configuration (mizan.toml, README 'Course configuration')")
        _positive("nli", n_train=self.n_train, n_eval=self.n_eval, epochs=self.epochs,
                  batch_size=self.batch_size, max_length=self.max_length, lora_r=self.lora_r,
                  lora_alpha=self.lora_alpha, learning_rate=self.learning_rate)
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ProfileError(f"nli.lora_dropout must be in [0, 1), got {self.lora_dropout}")


@dataclass(frozen=True)
class FraudConfig:
    """Task 2 budget: data size, CNN epochs and batch size."""

    source: str = field(default="generated", metadata={"help": "generated | csv"})
    data_path: str | None = field(default=None, metadata={"help": "path to creditcard.csv when source=csv"})
    n_rows: int = 284_807
    n_fraud: int = 492
    test_size: float = 0.2
    epochs: int = 5
    batch_size: int = 256
    adasyn_beta: float = 1.0
    adasyn_k: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in FRAUD_SOURCES:
            raise ProfileError(f"fraud.source={self.source!r}: choose one of {', '.join(FRAUD_SOURCES)}")
        if self.source == "csv" and not self.data_path:
            raise ProfileError("fraud.source='csv' needs fraud.data_path (the path of creditcard.csv): set it in "
                               "the course configuration (mizan.toml, README 'Course configuration')")
        _positive("fraud", n_rows=self.n_rows, n_fraud=self.n_fraud, epochs=self.epochs,
                  batch_size=self.batch_size, adasyn_k=self.adasyn_k)
        if self.n_fraud >= self.n_rows:
            raise ProfileError(f"fraud.n_fraud ({self.n_fraud}) must be smaller than fraud.n_rows ({self.n_rows})")
        if not 0.0 < self.test_size < 1.0:
            raise ProfileError(f"fraud.test_size must be in (0, 1), got {self.test_size}")
        if not 0.0 <= self.adasyn_beta <= 1.0:
            raise ProfileError(f"fraud.adasyn_beta must be in [0, 1], got {self.adasyn_beta}")


CHECKS_ADDRESS_SPACE_MB = 8192
"""The check phase's address-space limit on a CPU profile: torch + TensorFlow import well under it."""


@dataclass(frozen=True)
class LimitsConfig:
    """Per-step limits of the run phase (``grader.run.orchestrate.step_limits``).

    A step's CPU budget is its nominal seconds (its registered ``timeout_s``, or ``step_cpu_s[step id]``)
    on each of its threads; its wall clock is only a backstop, ``wall_factor`` times the nominal seconds
    plus a minute, so a busy machine never fails a step.
    """

    wall_factor: float = field(default=4.0, metadata={"help": "wall-clock backstop as a multiple of a step's nominal seconds"})
    address_space_mb: int = field(default=8192, metadata={"help": "address-space limit of a step in MiB; 0: none (CUDA)"})
    step_cpu_s: dict[str, float] = field(default_factory=dict,
                                         metadata={"help": "nominal CPU seconds per step id, replacing the step's own"})

    def __post_init__(self) -> None:
        _positive("limits", wall_factor=self.wall_factor)
        if self.wall_factor < 1:
            raise ProfileError(f"limits.wall_factor must be at least 1 (the wall clock is a backstop), "
                               f"got {self.wall_factor}")
        if self.address_space_mb < 0:
            raise ProfileError(f"limits.address_space_mb must be 0 (no limit) or positive, got {self.address_space_mb}")
        for step_id, seconds in self.step_cpu_s.items():
            _positive("limits.step_cpu_s", **{step_id: seconds})


@dataclass(frozen=True)
class Profile:
    """A named bundle of the two task budgets and the run's limits, plus a course's overrides.

    ``thresholds`` and ``rubric`` hold only what a course configuration (``grader.config``) changes;
    the defaults stay with the checks and in grader/rubric/. ``config`` names the file(s) it came from.
    """

    name: str
    description: str
    nli: NLIConfig
    fraud: FraudConfig
    timeout_s: int = field(default=1800, metadata={"help": "CPU budget of one submission's untrusted run, per thread"})
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict,
                                                    metadata={"help": "metric thresholds replacing the checks' own"})
    rubric: dict[str, dict] = field(default_factory=dict,
                                    metadata={"help": "points / visibility / enabled per check id"})
    config: str = field(default="", metadata={"help": "the course configuration it came from ('': built in)"})

    def __post_init__(self) -> None:
        _positive("profile", timeout_s=self.timeout_s)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Profile":
        """The profile ``to_dict`` wrote (the step runner and the check phase receive it this way)."""
        data = dict(data)
        return cls(**{**data, "nli": NLIConfig(**data["nli"]), "fraud": FraudConfig(**data["fraud"]),
                      "limits": LimitsConfig(**data.get("limits", {}))})

    def fingerprint(self) -> str:
        """sha256 of every value that decides a grade (not the description or the file's name): equal
        fingerprint, equal grading. The content hash and the inputs cache use it."""
        import hashlib
        import json

        values = {k: v for k, v in self.to_dict().items() if k not in ("description", "config")}
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()

    @property
    def uses_gpu(self) -> bool:
        """The one rule for GPUs: the paper profile binds them into its steps, lifts the address-space
        limit of its check phase (CUDA maps far more than it uses) and asks Slurm for one per task."""
        return self.name == "paper"

    @property
    def checks_memory_mb(self) -> int | None:
        """Address-space limit of the check phase (it reads what a submission wrote); None on a GPU profile."""
        return None if self.uses_gpu else CHECKS_ADDRESS_SPACE_MB

    def for_sandbox(self) -> "Profile":
        """What a sandboxed step receives: the budgets without the course's thresholds and rubric."""
        return dataclasses.replace(self, thresholds={}, rubric={}, config="")

    def threshold(self, task: str, key: str, default: float) -> float:
        """The course's threshold ``[thresholds.<task>] <key>`` where it sets one, else ``default``."""
        return float(self.thresholds.get(task, {}).get(key, default))

    def replace(self, **sections: dict) -> "Profile":
        """A copy with some fields of ``nli`` / ``fraud`` changed, validated again."""
        nli = dataclasses.replace(self.nli, **sections.get("nli", {}))
        fraud = dataclasses.replace(self.fraud, **sections.get("fraud", {}))
        return dataclasses.replace(self, nli=nli, fraud=fraud)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="tiny random RoBERTa and small generated sets: Mizan's own tests, seconds",
        nli=NLIConfig(model="tiny-roberta", n_train=64, n_eval=48, epochs=2, batch_size=16,
                      max_length=48, learning_rate=1e-3, lora_learning_rate=3e-3),
        fraud=FraudConfig(n_rows=3000, n_fraud=60, epochs=2, batch_size=128),
        timeout_s=600,
    ),
    "cpu": Profile(
        name="cpu",
        description="pretrained all-MiniLM-L6-v2 (offline), generated NLI and credit-card-like data",
        nli=NLIConfig(model="minilm", n_train=2400, n_eval=1200, epochs=4, batch_size=32,
                      max_length=64, learning_rate=1e-4, lora_learning_rate=3e-3),
        fraud=FraudConfig(n_rows=60_000, n_fraud=300, epochs=8, batch_size=256),
        timeout_s=3600,
    ),
    "paper": Profile(
        name="paper",
        description="roberta-large on MultiNLI (the original homework's setting) and the real creditcard.csv",
        nli=NLIConfig(model="roberta-large", source="hub", eval_split="validation_mismatched",
                      n_train=1000, n_eval=9832, epochs=5, batch_size=16, max_length=128,
                      learning_rate=1e-5, lora_learning_rate=3e-4, lora_r=32, lora_alpha=64),
        fraud=FraudConfig(source="csv", data_path="creditcard.csv", epochs=46, batch_size=256),
        timeout_s=6 * 3600,
        limits=LimitsConfig(address_space_mb=0),        # CUDA maps far more address space than it uses
    ),
}

# The LoRA paper's MNLI setting (Hu et al. 2021, Table 9, RoBERTa-large): r=8,
# alpha=16, lr 3e-4, warm-up 6 %, max length 128, 10 epochs, full MNLI.
LORA_PAPER_NLI = dataclasses.replace(
    PROFILES["paper"].nli, eval_split="validation_matched", n_train=392_702, epochs=10,
    lora_r=8, lora_alpha=16, lora_learning_rate=3e-4, warmup_ratio=0.06, max_length=128,
)

DEFAULT_PROFILE = "cpu"

FRAUD_VALIDATION_FRACTION = 0.1
"""Share of task 2's training part held out (stratified, before resampling) for
the CNN history's ``val_loss``; shared by the grader's step inputs and the
reference experiment so both hold out the same rows. The test set is never
used during training."""


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name`` (default: ``$PROFILE`` or ``cpu``)."""
    name = name or os.environ.get("PROFILE") or DEFAULT_PROFILE
    try:
        return PROFILES[name]
    except KeyError:
        raise ProfileError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} (e.g. PROFILE=cpu make grade, "
            f"or profile = \"cpu\" in the course configuration)"
        ) from None
