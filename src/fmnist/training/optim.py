"""Optimisers by name, the Keras-style L1/L2 kernel penalties added to the loss, and learning-rate
schedules as one multiplier per optimiser step (plateau: per epoch, on val loss)."""

from __future__ import annotations

import math

import torch
from torch import nn

from fmnist.config import OptimConfig, ScheduleConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    params, lr, wd = _decay_groups(model, cfg), cfg.lr, cfg.weight_decay
    if cfg.name == "muon":
        nesterov = cfg.nesterov and cfg.momentum > 0
        return Muon(_muon_groups(model, cfg), lr, cfg.momentum, nesterov, weight_decay=wd)
    if cfg.name == "sgd":
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=wd,
        )
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=cfg.momentum, weight_decay=wd)
    optimizer_class = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
        "adamax": torch.optim.Adamax,
        "nadam": torch.optim.NAdam,
    }[cfg.name]
    return optimizer_class(params, lr=lr, weight_decay=wd)


def _decay_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Weight decay on kernels only, unless asked: decaying BN scales and biases only fights the
    normalisation."""
    kernels = [p for p in model.parameters() if p.ndim > 1]
    others = [p for p in model.parameters() if p.ndim <= 1]
    if cfg.decay_bias_and_norm:
        return [{"params": kernels + others}]
    return [
        group
        for group in ({"params": kernels}, {"params": others, "weight_decay": 0.0})
        if group["params"]
    ]


def _muon_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """The trained conv filter banks orthogonalised at ``muon_lr``; the rest (the linear head,
    BN scales and biases) by plain SGD at ``lr``, with weight decay as ``_decay_groups`` gives it.
    A frozen layer (a whitening conv) has no gradient and is left out."""
    filters = [p for p in model.parameters() if p.ndim == 4 and p.requires_grad]
    chosen = {id(p) for p in filters}
    groups = [
        {**group, "params": [p for p in group["params"] if id(p) not in chosen]}
        for group in _decay_groups(model, cfg)
    ]
    orthogonalised = {
        "params": filters,
        "orthogonalise": True,
        "lr": cfg.muon_lr,
        "lr_scale": cfg.muon_lr / cfg.lr,  # the schedule sets lr x its factor x lr_scale
    }
    # last: the first group's LR is the one the metrics report (optim.lr's schedule)
    return [group for group in [*groups, orthogonalised] if group["params"]]


class Muon(torch.optim.Optimizer):
    """SGD with (Nesterov) momentum in which the update of a group marked ``orthogonalise`` is
    replaced by the nearest semi-orthogonal matrix (Muon, Keller Jordan 2024; airbench94_muon
    uses it on CIFAR-10's conv filters): every direction of a filter bank moves by the same amount,
    not only the few its gradient favours. torch.optim.Muon takes 2-D weights only; a conv bank of
    shape (out, in, k, k) is orthogonalised here as the (out, in*k*k) matrix it is for the
    convolution. The other groups take exactly torch.optim.SGD's step."""

    def __init__(
        self,
        groups: list[dict],
        lr: float,
        momentum: float,
        nesterov: bool,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": nesterov,
            "weight_decay": weight_decay,
            "orthogonalise": False,
            "lr_scale": 1.0,
        }
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure=None) -> None:
        for group in self.param_groups:
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.add(p, alpha=group["weight_decay"])
                buffer = self.state[p].get("momentum_buffer")
                if buffer is None:
                    buffer = self.state[p]["momentum_buffer"] = grad.clone()
                else:
                    buffer.mul_(momentum).add_(grad)
                update = grad.add(buffer, alpha=momentum) if group["nesterov"] else buffer
                if group["orthogonalise"]:
                    matrix = update.reshape(len(update), -1)
                    # torch's "original" scale: a tall matrix's rows would otherwise move less
                    scale = max(1.0, matrix.shape[0] / matrix.shape[1]) ** 0.5
                    update = orthogonalised(matrix).reshape(p.shape) * scale
                lr = group["lr"]
                if isinstance(lr, torch.Tensor):  # a compiled step's LR; alpha takes numbers only
                    p.sub_(update * lr)
                else:  # one fused multiply-add: the step the recorded runs took
                    p.add_(update, alpha=-lr)


def orthogonalised(matrix: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """U V^T of ``matrix`` = U S V^T, approximately, by the quintic Newton-Schulz iteration of Muon
    (its coefficients, as in torch.optim.Muon, trade exactness for speed: the singular values
    land between about 0.7 and 1.2, which trains as well as exact 1s at a fraction of an SVD's
    cost)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = matrix.float()
    tall = x.shape[0] > x.shape[1]
    if tall:  # iterate on the smaller Gram matrix
        x = x.T
    x = x / (x.norm() + 1e-7)  # spectral norm <= Frobenius norm <= 1: inside the convergence range
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def kernel_penalty(model: nn.Module, cfg: OptimConfig) -> torch.Tensor | float:
    """l1 * sum|w| + l2 * sum w^2 over conv and linear kernels (not biases or norm scales)."""
    if not (cfg.l1 or cfg.l2):
        return 0.0
    kernels = [p for p in model.parameters() if p.ndim > 1]
    penalty = 0.0
    if cfg.l1:
        penalty = penalty + cfg.l1 * sum(p.abs().sum() for p in kernels)
    if cfg.l2:
        penalty = penalty + cfg.l2 * sum(p.pow(2).sum() for p in kernels)
    return penalty


# -- schedules


def lr_factor(cfg: ScheduleConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the peak LR at ``step`` (0-based) for every schedule but plateau."""
    epoch = step / steps_per_epoch
    if cfg.name in ("constant", "plateau"):
        return 1.0
    if cfg.name == "exponential":
        # Smooth per-step decay like tf.train.exponential_decay, towards a floor of end_factor
        # (study 000: lr = 0.0001 + 0.003 * e^(-step/2000)).
        return cfg.end_factor + (1 - cfg.end_factor) * cfg.gamma**epoch
    if cfg.name == "step":
        return cfg.gamma ** (int(epoch) // cfg.step_size)
    # onecycle / cosine: 1) linear warm-up from start_factor to 1, 2) linear or cosine decay to
    # end_factor.
    warmup_steps = round(cfg.warmup * total_steps)
    if step < warmup_steps:
        return cfg.start_factor + (1 - cfg.start_factor) * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    shape = 1 - progress if cfg.name == "onecycle" else 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.end_factor + (1 - cfg.end_factor) * shape


def build_plateau(
    optimizer: torch.optim.Optimizer, cfg: ScheduleConfig
) -> torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    if cfg.name != "plateau":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.factor, patience=cfg.patience
    )
