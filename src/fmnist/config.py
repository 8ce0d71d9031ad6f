"""Run configuration: pydantic models you can read top to bottom, loadable from YAML.

Every field can be overridden with ``--set section.field=value`` (the value is parsed as YAML).
Unknown fields are refused, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from fmnist.models.catalog import check_model_options, is_registered
from fmnist.schema import Strict, layered, read_yaml, validated

CLASS_COUNT = 10  # Fashion-MNIST's classes (fmnist.data.CLASS_NAMES; this module imports no torch)
SEED_MAX = 2**32 - 1  # NumPy's and torch's generators both take seeds in [0, 2**32)


class DataConfig(Strict):
    data_dir: Path | None = Field(
        None,
        description="Directory with the four IDX files; else FMNIST_DATA, the Debian package, "
        "then a verified download.",
    )
    val_size: int = Field(
        5000,
        ge=0,
        le=30000,
        description="Images held out of training (stratified) for model choice; "
        "0 trains on all 60,000.",
    )
    split_seed: int = Field(
        0,
        ge=0,
        le=SEED_MAX,
        description="Seed of the holdout / k-fold split, independent of the training seed.",
    )
    folds: int | None = Field(
        None,
        ge=2,
        le=20,
        description="k for k-fold cross validation; with `fold`, validation is that fold.",
    )
    fold: int | None = Field(
        None, ge=0, description="Which fold (0-based) is the validation fold when `folds` is set."
    )
    train_subset: int | None = Field(
        None, ge=100, description="Train on only this many images (stratified), for quick runs."
    )
    normalize: Literal["standardize", "scale"] = Field(
        "standardize",
        description="standardize: (x-mean)/std with train-split stats; scale: x/255 in [0,1].",
    )

    @field_validator("val_size")
    @classmethod
    def _a_stratified_split_needs_every_class(cls, val_size: int) -> int:
        if 0 < val_size < CLASS_COUNT:
            raise ValueError(
                f"0 (no validation) or at least {CLASS_COUNT} (one image of each class, for a "
                "stratified split)"
            )
        return val_size

    @model_validator(mode="after")
    def _fold_needs_folds(self) -> DataConfig:
        if (self.fold is None) != (self.folds is None):
            raise ValueError(
                "data.fold and data.folds go together: set both (e.g. folds=5, fold=0) or neither"
            )
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(
                f"data.fold must be in [0, {self.folds - 1}] for folds={self.folds}, "
                f"got {self.fold}"
            )
        return self


class AugmentConfig(Strict):
    """Per-batch augmentations applied on the device to training images only (pixel scale [0,1])."""

    hflip: bool | Literal["alternate"] = Field(
        False,
        description="Mirror left-right: true, each image with probability 0.5 every epoch; "
        "alternate, a random half in the first epoch and then every image the other way than "
        "the epoch before (each image seen both ways every two epochs).",
    )
    shift: int = Field(
        0,
        ge=0,
        le=8,
        description="Random translation up to this many pixels "
        "(random crop of a zero-padded image).",
    )
    rotate: float = Field(
        0.0, ge=0, le=180, description="Random rotation in [-rotate, rotate] degrees."
    )
    shear: float = Field(0.0, ge=0, le=45, description="Random shear in [-shear, shear] degrees.")
    zoom: float = Field(0.0, ge=0, le=0.5, description="Random scale in [1-zoom, 1+zoom].")
    noise: float = Field(0.0, ge=0, le=1, description="Std of added Gaussian pixel noise.")
    erase: float = Field(
        0.0, ge=0, le=1, description="Probability of random erasing of one rectangle."
    )
    brightness: float = Field(0.0, ge=0, le=1, description="Random additive brightness in [-b, b].")
    contrast: float = Field(0.0, ge=0, le=1, description="Random contrast factor in [1-c, 1+c].")

    @property
    def enabled(self) -> bool:
        return self != AugmentConfig()


class ModelConfig(BaseModel):
    """``name`` picks a registered model; every other field is one of its options, kept as given
    (so the config and its hash stay as written) and validated by the model's options model
    without importing torch (see ``fmnist models``)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    name: str = Field(
        "cnn",
        description="Registered model name (fmnist models), or your own as module:callable or "
        "path/to/file.py:callable.",
    )

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _known_model_and_options(self) -> ModelConfig:
        # A user's model named by reference ("file.py:Net") is checked once the command that
        # named it imports it, not wherever a config is read: reading a run never runs its code.
        if ":" in self.name and not is_registered(self.name):
            return self
        check_model_options(self.name, self.options)
        return self


OptimizerName = Literal[
    "sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "muon"
]


class OptimConfig(Strict):
    name: OptimizerName = "adam"
    lr: float = Field(1e-3, gt=0, le=10, description="Peak learning rate.")
    momentum: float = Field(
        0.9,
        ge=0,
        lt=1,
        description="SGD/RMSprop momentum: 0.9 for SGD, 0 for RMSprop unless set "
        "(the RMSprop default of PyTorch and Keras).",
    )
    nesterov: bool = Field(False, description="Nesterov momentum (SGD).")
    weight_decay: float = Field(
        0.0,
        ge=0,
        description="Decoupled (AdamW) or coupled weight decay, as the optimiser defines it.",
    )
    decay_bias_and_norm: bool = Field(
        False,
        description="Apply weight_decay to biases and norm scales too "
        "(PyTorch's default; off: kernels only).",
    )
    muon_lr: float = Field(
        0.05,
        gt=0,
        le=10,
        description="muon: peak LR of the orthogonalised filter updates (the rest takes lr).",
    )
    l1: float = Field(
        0.0,
        ge=0,
        description="L1 penalty on conv/linear kernels added to the loss "
        "(Keras-style regulariser).",
    )
    l2: float = Field(
        0.0,
        ge=0,
        description="L2 penalty (sum of squares) on conv/linear kernels added to the loss.",
    )

    @model_validator(mode="before")
    @classmethod
    def _rmsprop_without_momentum_unless_asked(cls, data: Any) -> Any:
        # 0.9 suits SGD; on RMSprop it multiplies the step by ten, which neither PyTorch nor Keras
        # does by default.
        if isinstance(data, dict) and data.get("name") == "rmsprop" and "momentum" not in data:
            return {**data, "momentum": 0.0}
        return data


class ScheduleConfig(Strict):
    name: Literal["constant", "exponential", "step", "plateau", "onecycle", "cosine"] = "constant"
    gamma: float = Field(
        0.1,
        gt=0,
        le=1,
        description="exponential: LR factor per epoch (applied smoothly per step); "
        "step: factor every step_size epochs.",
    )
    step_size: int = Field(10, ge=1, description="step: epochs between decays.")
    factor: float = Field(
        0.5, gt=0, lt=1, description="plateau: LR factor when validation loss stalls."
    )
    patience: int = Field(
        2, ge=0, description="plateau: epochs without improvement before decaying."
    )
    warmup: float = Field(
        0.2,
        ge=0,
        le=1,
        description="onecycle/cosine: fraction of training spent warming up linearly.",
    )
    start_factor: float = Field(
        0.1, ge=0, le=1, description="onecycle/cosine: LR at step 0 as a fraction of the peak."
    )
    end_factor: float = Field(
        0.0,
        ge=0,
        le=1,
        description="onecycle/cosine: LR at the last step as a fraction of the peak; "
        "exponential: the floor it decays towards.",
    )


class TrainConfig(Strict):
    epochs: int = Field(10, ge=1, le=1000)
    batch_size: int = Field(128, ge=1, le=65536)
    eval_batch_size: int = Field(1000, ge=1, le=65536)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    validation_freq: int = Field(
        1,
        ge=0,
        description="Validate every N epochs and after the last (0: only after the last), "
        "as in Keras; early stopping counts validations.",
    )
    early_stopping: int | None = Field(
        None,
        ge=1,
        description="Stop after this many validations without a better validation accuracy.",
    )
    restore_best: bool = Field(
        True,
        description="End with the weights of the epoch with the best validation accuracy "
        "(needs val_size > 0).",
    )
    ema: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Decay of an exponential moving average of weights used for evaluation.",
    )
    tta_flip: bool = Field(
        False, description="Test-time augmentation: average logits of the image and its mirror."
    )
    tta_shift: int = Field(
        0,
        ge=0,
        le=2,
        description="Test-time augmentation: also average the logits of the image moved this "
        "many pixels down-right and up-left (border pixels repeated into the gap; with tta_flip, "
        "each of those mirrored too).",
    )
    device: str = Field(
        "auto",
        description="auto, cpu, cuda, cuda:N (the GPU numbered N) or mps (an Apple GPU); auto "
        "takes CUDA, then MPS, then the CPU.",
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="auto: bf16 autocast where the device runs it natively "
        "(GPUs with bf16, AMX or AVX-512-BF16 CPUs), else fp32.",
    )
    channels_last: bool = Field(
        False, description="NHWC memory layout, faster convolutions on recent CPUs and GPUs."
    )
    compile: bool = Field(
        False, description="torch.compile the model (pays off only for long runs)."
    )
    threads: int | None = Field(
        None, ge=1, le=1024, description="CPU threads for torch; default: torch's choice."
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        # Checked here as a name; whether this machine has it is checked before a run starts.
        if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", device):
            raise ValueError("input should be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        return device


class RecordConfig(Strict):
    """What to record during training beyond metrics (for reports and TensorBoard)."""

    filters: bool = Field(False, description="First-layer weights every epoch (filters.npz).")
    histograms: bool = Field(
        False, description="Weight/bias histograms every epoch (histograms.jsonl)."
    )
    embeddings: bool = Field(
        False, description="Penultimate features of test images at the end (embeddings.npz)."
    )
    layers: bool = Field(
        False,
        description="Each layer's relative weight change and mean gradient norm every epoch "
        "(layers.jsonl): does every layer learn?",
    )
    tensorboard: bool = Field(False, description="TensorBoard event files in RUN_DIR/tensorboard.")


class RunConfig(Strict):
    name: str | None = Field(
        None,
        # Part of a folder name: no '/', no leading '.', so no name leads out of --out.
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,199}$",
        description="Run name used in the run directory (letters, digits and _ . : + = -, up to "
        "200, starting with a letter or digit); default: the model name.",
    )
    seed: int = Field(
        0,
        ge=0,
        le=SEED_MAX,
        description="Seeds weights init, shuffling, dropout and augmentation.",
    )
    data: DataConfig = DataConfig()
    augment: AugmentConfig = AugmentConfig()
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    train: TrainConfig = TrainConfig()
    record: RecordConfig = RecordConfig()
    variant: str | None = Field(
        None,
        description="Set by a recipe that picked its variant for this hardware: which one and why.",
    )

    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        if data["variant"] is None:
            del data[
                "variant"
            ]  # added later: left out when unset, so earlier run folders keep their config and hash
        return data

    def fingerprint(self) -> str:
        """Short stable hash of the resolved config, used to name run directories."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:8]


def build_config(data: dict[str, Any], *layers: Mapping[str, Any] | None) -> RunConfig:
    """Validate a nested dict, with each layer of dotted fields (``--set`` overrides) set in turn,
    into a RunConfig, or raise one clear ConfigError."""
    return validated(
        RunConfig,
        layered(data, *layers),
        "config field",
        fix="correct it in the YAML file or --set (every field and its default: fmnist config)",
        allowed_fields=_allowed_fields,
    )


def load_config(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> RunConfig:
    return build_config(read_yaml(path) if path else {}, overrides)


def _allowed_fields(loc: tuple) -> str:
    section = _section(loc)
    return ", ".join(section.model_fields) if section else "?"


def _section(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = RunConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model
