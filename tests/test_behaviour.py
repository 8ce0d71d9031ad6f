"""What training computes, checked against the formulas: optimiser steps, regularisers, label
smoothing, EMA, flip TTA, the plateau schedule, a test split that training never reads, and the best
epoch."""

from __future__ import annotations

import copy
import math
from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fmnist
from fmnist.config import AugmentConfig, OptimConfig, TrainConfig, build_config
from fmnist.data import DeviceSplits
from fmnist.errors import ConfigError
from fmnist.models import create_model
from fmnist.models.layers import PatchWhitening
from fmnist.runner.make import WHITENING_IMAGES
from fmnist.schema import merge
from fmnist.training import Trainer
from fmnist.training.optim import build_optimizer, kernel_penalty
from fmnist.training.record import predict_logits
from fmnist.training.trainer import load_checkpoint
from tests.conftest import tiny

WEIGHT_DECAY = 0.1


def make_trainer(**sections) -> Trainer:
    """A Trainer on real data, built as ``fmnist.train`` builds it, in fp32 on the CPU and without a
    run directory."""
    sections["train"] = {"precision": "fp32", "device": "cpu", **sections.get("train", {})}
    cfg = build_config(tiny(**sections))
    torch.set_flush_denormal(
        True
    )  # as fmnist.train does on a CPU: denormals only slow the math down
    torch.manual_seed(cfg.seed)
    data = DeviceSplits(cfg.data, "cpu")
    return Trainer(
        create_model(cfg.model.name, **cfg.model.options), data, cfg, None, verbose=False
    )


def without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


# -- optimisers: the published update rules with PyTorch's default hyperparameters -----------------
def sgd(p, grads, lr, wd, momentum=0.9, nesterov=False):
    buf = torch.zeros_like(p)
    for g in grads:
        g = g + wd * p
        buf = momentum * buf + g
        p = p - lr * (g + momentum * buf if nesterov else buf)
    return p


def adam(p, grads, lr, wd, decoupled=False, b1=0.9, b2=0.999, eps=1e-8):
    m = v = torch.zeros_like(p)
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
    return p


def rmsprop(p, grads, lr, wd, momentum=0.0, alpha=0.99, eps=1e-8):
    v = buf = torch.zeros_like(p)
    for g in grads:
        g = g + wd * p
        v = alpha * v + (1 - alpha) * g * g
        buf = momentum * buf + g / (v.sqrt() + eps)
        p = p - lr * buf
    return p


def adagrad(p, grads, lr, wd, eps=1e-10):
    total = torch.zeros_like(p)
    for g in grads:
        g = g + wd * p
        total = total + g * g
        p = p - lr * g / (total.sqrt() + eps)
    return p


def adadelta(p, grads, lr, wd, rho=0.9, eps=1e-6):
    v = u = torch.zeros_like(p)
    for g in grads:
        g = g + wd * p
        v = rho * v + (1 - rho) * g * g
        delta = (u + eps).sqrt() / (v + eps).sqrt() * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    return p


def adamax(p, grads, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    m = u = torch.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = g + wd * p
        m, u = b1 * m + (1 - b1) * g, torch.maximum(b2 * u, g.abs() + eps)
        p = p - lr / (1 - b1**t) * m / u
    return p


def nadam(p, grads, lr, wd, b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3):
    m = v = torch.zeros_like(p)
    mu_product = 1.0
    for t, g in enumerate(grads, 1):
        g = g + wd * p
        mu, mu_next = (b1 * (1 - 0.5 * 0.96 ** (s * momentum_decay)) for s in (t, t + 1))
        mu_product *= mu
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        denom = (v / (1 - b2**t)).sqrt() + eps
        p = (
            p
            - lr * (1 - mu) / (1 - mu_product) * g / denom
            - lr * mu_next / (1 - mu_product * mu_next) * m / denom
        )
    return p


OPTIMISERS = {
    "sgd": ({"name": "sgd"}, sgd),
    "sgd-nesterov": ({"name": "sgd", "nesterov": True}, partial(sgd, nesterov=True)),
    "sgd-nesterov-without-momentum": (
        {"name": "sgd", "nesterov": True, "momentum": 0.0},
        partial(sgd, momentum=0.0),
    ),
    "sgd-decay-bias-and-norm": ({"name": "sgd", "decay_bias_and_norm": True}, sgd),
    "adam": ({"name": "adam"}, adam),
    "adamw": ({"name": "adamw"}, partial(adam, decoupled=True)),
    "rmsprop": ({"name": "rmsprop"}, rmsprop),
    "rmsprop-momentum": ({"name": "rmsprop", "momentum": 0.5}, partial(rmsprop, momentum=0.5)),
    "adagrad": ({"name": "adagrad"}, adagrad),
    "adadelta": ({"name": "adadelta", "lr": 1.0}, adadelta),
    "adamax": ({"name": "adamax"}, adamax),
    "nadam": ({"name": "nadam"}, nadam),
    # muon orthogonalises conv filters only (the next test); the rest takes SGD's Nesterov step
    "muon-without-filters": ({"name": "muon", "nesterov": True}, partial(sgd, nesterov=True)),
    "muon-without-filters-or-nesterov": ({"name": "muon"}, sgd),
}


@pytest.mark.parametrize("case", OPTIMISERS)
def test_optimiser_steps_follow_the_update_rule(case):
    """Two steps (the second shows momentum) move every parameter as the optimiser's published rule
    says, with weight decay on kernels only unless decay_bias_and_norm."""
    optim, rule = OPTIMISERS[case]
    cfg = OptimConfig(**{"lr": 0.01, "weight_decay": WEIGHT_DECAY, **optim})
    model = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)).double()
    start = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(0)
    grads = [
        [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in start] for _ in range(2)
    ]
    optimizer = build_optimizer(model, cfg)
    for step in grads:
        for p, g in zip(model.parameters(), step):
            p.grad = g.clone()
        optimizer.step()
    for i, (p, p0) in enumerate(zip(model.parameters(), start)):
        wd = cfg.weight_decay if p.ndim > 1 or cfg.decay_bias_and_norm else 0.0
        torch.testing.assert_close(p.detach(), rule(p0, [step[i] for step in grads], cfg.lr, wd))


def test_muon_moves_each_filter_bank_by_its_orthogonalised_gradient_and_the_rest_by_sgd():
    """optim.name=muon: a trained conv's filter bank, seen as an (out, in*k*k) matrix G + wd*W,
    moves by -muon_lr times about U V^T of it (G = U S V^T: every singular value near 1); a
    frozen conv does not move; the head and BN take plain SGD at lr."""
    cfg = OptimConfig(name="muon", lr=0.1, muon_lr=0.05, nesterov=True, weight_decay=WEIGHT_DECAY)
    frozen = nn.Conv2d(1, 4, 2)
    frozen.weight.requires_grad_(False)
    conv = nn.Conv2d(4, 16, 3, bias=False)
    model = nn.Sequential(frozen, conv, nn.BatchNorm2d(16), nn.Flatten(), nn.LazyLinear(10))
    model(torch.zeros(1, 1, 8, 8))  # the head's input size
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    grads = {name: torch.randn_like(p) for name, p in model.named_parameters() if p.requires_grad}
    for name, p in model.named_parameters():
        p.grad = grads.get(name)
    build_optimizer(model, cfg).step()
    moved = {name: p.detach() - start[name] for name, p in model.named_parameters()}
    step = moved["1.weight"].reshape(16, -1) / -cfg.muon_lr
    u, singular, vh = torch.linalg.svd(
        (grads["1.weight"] + WEIGHT_DECAY * start["1.weight"]).reshape(16, -1),
        full_matrices=False,
    )
    assert singular.max() / singular.min() > 3  # a gradient far from orthogonal
    step_singular = torch.linalg.svdvals(step)
    assert step_singular.min() > 0.6 and step_singular.max() < 1.25
    assert F.cosine_similarity(step.flatten(), (u @ vh).flatten(), dim=0) > 0.97
    assert not moved["0.weight"].any()
    for name in ["0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]:
        wd = WEIGHT_DECAY if name == "4.weight" else 0.0  # the head's kernel is decayed, as by SGD
        sgd_step = -cfg.lr * (1 + cfg.momentum) * (grads.get(name, 0) + wd * start[name])
        torch.testing.assert_close(moved[name], sgd_step, msg=name)


def test_the_schedule_scales_muons_filter_lr_with_the_rest():
    """The one-cycle factor multiplies both peak LRs: filters at muon_lr x factor, the rest at
    lr x factor; the reported LR is optim.lr's."""
    trainer = make_trainer(
        model={"name": "fastnet", "widths": [4, 8]},
        optim={"name": "muon", "lr": 0.2, "muon_lr": 0.05},
        schedule={"name": "onecycle", "warmup": 0.5},
    )
    trainer.step = 1
    lr = trainer._set_lr()
    by_kind = {bool(g["orthogonalise"]): g["lr"] for g in trainer.optimizer.param_groups}
    assert by_kind[False] == pytest.approx(lr) and lr < 0.2
    assert by_kind[True] == pytest.approx(lr * 0.05 / 0.2)


# -- the training loss: label smoothing and L1/L2 kernel penalties ---------------------------------
def one_sgd_step(**sections) -> tuple[Trainer, nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A fit of exactly one plain-SGD step on 100 real images: the trainer, the model before it, and
    the batch."""
    base = {
        "data": {"train_subset": 100, "val_size": 100},
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.0},
        "train": {"epochs": 1, "batch_size": 100},
    }
    trainer = make_trainer(**merge(base, sections))
    before = copy.deepcopy(trainer.model)
    trainer.fit()
    return trainer, before.train(), next(trainer.data.batches("train", 100))


def smoothed_cross_entropy(logits: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Cross entropy against the target (1 - eps) * one_hot + eps / classes (Szegedy et al.
    2016)."""
    target = (1 - eps) * F.one_hot(y, logits.shape[1]) + eps / logits.shape[1]
    return -(target * logits.log_softmax(1)).sum(1).mean()


def assert_sgd_step(trainer: Trainer, before: nn.Module, loss: torch.Tensor) -> None:
    """The trainer's weights are the weights before it minus lr times the gradient of ``loss``."""
    grads = torch.autograd.grad(loss, list(before.parameters()))
    for p, p0, g in zip(trainer.model.parameters(), before.parameters(), grads):
        torch.testing.assert_close(p.detach(), p0.detach() - trainer.cfg.optim.lr * g)


def test_label_smoothing_is_the_loss_that_is_reported_and_minimised():
    """With label_smoothing=eps, the reported train loss and the gradient step are those of the
    smoothed target."""
    trainer, before, (x, y) = one_sgd_step(train={"label_smoothing": 0.2})
    loss = smoothed_cross_entropy(before(x), y, 0.2)
    assert trainer.history[0]["train_loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert F.cross_entropy(before(x), y).item() != pytest.approx(loss.item(), rel=1e-5)
    assert_sgd_step(trainer, before, loss)


@pytest.mark.parametrize(("l1", "l2"), [(1e-3, 0.0), (0.0, 1e-2), (1e-3, 1e-2)])
def test_l1_and_l2_add_their_term_on_kernels_to_the_minimised_loss(l1, l2):
    """optim.l1/l2 add l1 * sum|W| + l2 * sum W^2 over conv/linear kernels (not biases, not BN) to
    the loss."""
    trainer, before, (x, y) = one_sgd_step(
        model={"name": "mlp", "hidden": [32], "batch_norm": True}, optim={"l1": l1, "l2": l2}
    )
    kernels = [p for name, p in before.named_parameters() if name.endswith("weight") and p.ndim > 1]
    assert len(kernels) == 2 and len(list(before.parameters())) > 2
    term = l1 * sum(w.abs().sum() for w in kernels) + l2 * sum(w.pow(2).sum() for w in kernels)
    torch.testing.assert_close(kernel_penalty(before, trainer.cfg.optim), term)
    assert_sgd_step(trainer, before, F.cross_entropy(before(x), y) + term)


# -- evaluation: EMA weights and flip TTA ----------------------------------------------------------
def test_ema_weights_and_bn_statistics_follow_the_moving_average_and_are_the_ones_evaluated():
    """train.ema=d keeps ema = d * ema + (1 - d) * weights after every step (the first step copies),
    BN statistics included, and validation evaluates that average."""
    decay = 0.7
    trainer = make_trainer(
        data={"train_subset": 200, "val_size": 100},
        model={"name": "mlp", "hidden": [16], "batch_norm": True},
        train={"epochs": 1, "batch_size": 50, "ema": decay},
    )
    snapshots, step = [], trainer.step_fn

    def step_and_snapshot(x, y):
        out = step(x, y)
        state = trainer.model.state_dict()
        snapshots.append({k: v.detach().clone() for k, v in state.items() if v.is_floating_point()})
        return out

    trainer.step_fn = step_and_snapshot
    trainer.fit()
    assert len(snapshots) == 4
    expected = snapshots[0]
    for weights in snapshots[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * weights[k] for k in expected}
    averaged = trainer.ema.module.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(averaged[key], value, msg=key)
    x, y = next(trainer.data.batches("val", 100))
    val_loss = F.cross_entropy(trainer.ema.module.eval()(x), y).item()
    assert trainer.history[0]["val_loss"] == pytest.approx(val_loss, rel=1e-5)


def test_flip_tta_logits_are_the_mean_of_the_image_and_its_mirror_in_eval_mode():
    """train.tta_flip averages the eval-mode logits of each image and its left-right mirror, in
    predict and evaluate."""
    trainer = make_trainer(
        model={"name": "cnn", "filters": [4, 8], "dense": [16], "batch_norm": True, "dropout": 0.5},
        train={"tta_flip": True, "eval_batch_size": 64},
    )
    model = trainer.model
    x, _ = next(trainer.data.batches("val", 100))
    mirror = x[..., torch.arange(27, -1, -1)]
    model.eval()
    with torch.no_grad():
        plain, mirrored = model(x), model(mirror)
    assert not torch.allclose(plain, mirrored)
    model.train()
    torch.testing.assert_close(
        predict_logits(model, x, TrainConfig(tta_flip=True), "fp32"), (plain + mirrored) / 2
    )
    torch.testing.assert_close(predict_logits(model, x, TrainConfig(tta_flip=False), "fp32"), plain)
    torch.testing.assert_close(trainer.logits("val")[:100], (plain + mirrored) / 2)


def test_multi_view_tta_logits_are_the_mean_of_exactly_its_views():
    """train.tta_shift averages the eval-mode logits of the image, the image moved that many
    pixels down-right and up-left (border pixels repeated into the gap), and with tta_flip the
    mirror of each: six views."""
    trainer = make_trainer(model={"name": "cnn", "filters": [4, 8], "dense": [16]})
    model = trainer.model.eval()
    x, _ = next(trainer.data.batches("val", 50))
    side = torch.arange(28)
    down_right = x[..., (side - 1).clamp(min=0), :][..., (side - 1).clamp(min=0)]
    up_left = x[..., (side + 1).clamp(max=27), :][..., (side + 1).clamp(max=27)]
    views = [x, down_right, up_left]
    views += [view[..., torch.arange(27, -1, -1)] for view in views]
    with torch.no_grad():
        logits = [model(view) for view in views]
    config = TrainConfig(tta_flip=True, tta_shift=1)
    torch.testing.assert_close(predict_logits(model, x, config, "fp32"), sum(logits) / 6)
    without_flip = TrainConfig(tta_shift=1)
    torch.testing.assert_close(predict_logits(model, x, without_flip, "fp32"), sum(logits[:3]) / 3)


def test_alternating_flip_mirrors_exactly_the_images_the_epoch_before_did_not():
    """augment.hflip=alternate: about half the training images mirrored in the first epoch, then
    each image the other way than in the epoch before, as the loader gives the batches."""
    data = make_trainer(augment={"hflip": "alternate"}).data
    n = data.size("train")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    originals = data.normalize(data.images["train"][order] / 255)
    mirrors = originals.flip(-1)
    asymmetric = (originals != mirrors).flatten(1).any(1)
    mirrored = []
    for epoch in range(3):
        ((batch, labels),) = data.batches(
            "train",
            n,
            gen=torch.Generator().manual_seed(0),
            augment_cfg=AugmentConfig(hflip="alternate"),
            epoch=epoch,
        )
        assert bool((labels == data.labels["train"][order]).all())
        flipped = (batch == mirrors).flatten(1).all(1)
        assert bool((flipped | (batch == originals).flatten(1).all(1)).all())  # nothing else
        mirrored.append(flipped[asymmetric])
    assert 0.45 < mirrored[0].float().mean() < 0.55
    assert bool((mirrored[1] == ~mirrored[0]).all()) and bool((mirrored[2] == mirrored[0]).all())


def test_a_whitening_stem_whitens_the_training_patches_and_is_never_trained(tmp_path):
    """fastnet whiten=3: a run fits the stem on its training images before the first step; its
    first half of channels then has a covariance near the identity over the training patches (and
    close to it on validation images, which the fit never saw); the filters are no parameter, so
    training leaves them as fitted, and the run's checkpoint holds them."""
    config = tiny(model={"name": "fastnet", "widths": [8, 16], "whiten": 3})
    run = fmnist.train(config, out=tmp_path, verbose=False)
    stem = create_model("fastnet", widths=[8, 16], whiten=3).features[0]
    assert isinstance(stem, PatchWhitening) and not stem.weight.any()  # fitted by the run
    assert "weight" not in dict(stem.named_parameters())
    data = make_trainer(model=config["model"]).data  # the run's splits
    train = data.normalize(data.images["train"][:WHITENING_IMAGES] / 255)
    stem.fit(train)
    kept = load_checkpoint(run.path / "ckpt" / "final.pt", "cpu")["model"]["features.0.weight"]
    torch.testing.assert_close(kept, stem.weight)
    for images, tolerance in ((train, 0.05), (data.normalize(data.images["val"] / 255), 0.3)):
        with torch.no_grad():
            out = stem(images)[:, :9, 1:-1, 1:-1]  # interior pixels: no padding in their patches
        channels = out.permute(1, 0, 2, 3).reshape(9, -1)
        covariance = channels @ channels.T / channels.shape[1]
        torch.testing.assert_close(covariance, torch.eye(9), atol=tolerance, rtol=0)


def test_a_pooled_whitening_stem_takes_the_first_blocks_place():
    """fastnet whiten_pool: the whitening's output is max-pooled, so the first learned conv sees
    14x14 maps; without whitening there is nothing to pool, and a fourth block would not fit."""
    net = create_model("fastnet", widths=[8, 16], pool_early=True, whiten=2, whiten_pool=True)
    seen = {}
    first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda m, i, o: seen.update(side=i[0].shape[-1]))
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and seen["side"] == 14
    with pytest.raises(ConfigError, match="set whiten to 2 or 3"):
        build_config({"model": {"name": "fastnet", "whiten_pool": True}})
    with pytest.raises(ConfigError, match="at most three blocks"):
        build_config(
            {
                "model": {
                    "name": "fastnet",
                    "widths": [8] * 4,
                    "convs": [1] * 4,
                    "whiten": 2,
                    "whiten_pool": True,
                }
            }
        )


# -- the plateau schedule --------------------------------------------------------------------------
def plateau_lrs(
    val_losses: list[float | None], lr: float, factor: float, patience: int
) -> list[float]:
    """The LR of each epoch under ReduceLROnPlateau's rule: after more than ``patience`` validations
    in a row without a val-loss improvement (of more than 1e-4 relative), multiply the LR by
    ``factor`` for the next epoch."""
    best, bad, lrs = math.inf, 0, []
    for loss in val_losses:
        lrs.append(lr)
        if loss is None:
            continue
        best, bad = (loss, 0) if loss < best * (1 - 1e-4) else (best, bad + 1)
        if bad > patience:
            lr, bad = lr * factor, 0
    return lrs


@pytest.mark.parametrize("validation_freq", [1, 2])
def test_plateau_lowers_the_lr_exactly_after_patience_validations_without_improvement(
    validation_freq,
):
    """schedule.name=plateau multiplies the LR by factor after more than ``patience`` validations
    whose loss did not improve, and at no other time."""
    trainer = make_trainer(
        optim={"lr": 0.01},
        schedule={"name": "plateau", "factor": 0.5, "patience": 1},
        train={"epochs": 12, "validation_freq": validation_freq},
    )
    history = trainer.fit()
    lrs = [row["lr"] for row in history]
    assert lrs == pytest.approx(plateau_lrs([row.get("val_loss") for row in history], 0.01, 0.5, 1))
    assert lrs[-1] < lrs[0]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's jit, loaded by Dynamo
def test_a_compiled_step_reads_its_lr_from_a_tensor_also_after_a_resume():
    """On a GPU, torch 2.11 compiled the optimizer step again for each new float LR (H200,
    2026-11-27). A CPU's Dynamo lifts the float, so the failure cannot be shown here: this checks
    the remedy instead, an LR tensor the schedule fills in place, fresh and after loading a
    checkpoint written without compile (float LRs)."""
    plain = make_trainer(schedule={"name": "onecycle"})
    compiled = make_trainer(schedule={"name": "onecycle"}, train={"compile": True})
    compiled.load_state_dict(plain.state_dict())
    lrs = compiled.optimizer.param_groups[0]["lr"], compiled.optimizer.param_groups[-1]["lr"]
    compiled.step = compiled.total_steps // 2
    lr = compiled._set_lr()
    assert all(isinstance(t, torch.Tensor) and t.item() == pytest.approx(lr) for t in lrs)
    assert plain.optimizer.param_groups[0]["lr"] == plain.cfg.optim.lr  # untouched, still a float


# -- what training may read ------------------------------------------------------------------------
def test_training_never_reads_the_test_split():
    """Noise images and shuffled labels in the test split change nothing in training or
    validation."""
    sections = {
        "model": {"name": "mlp", "hidden": [32], "batch_norm": True, "dropout": 0.2},
        "augment": {"hflip": True, "shift": 2},
        "schedule": {"name": "plateau", "patience": 0},
        "train": {"epochs": 3, "ema": 0.9, "tta_flip": True, "early_stopping": 2},
    }
    clean = make_trainer(**sections)
    clean.fit()
    poisoned = make_trainer(**sections)
    gen = torch.Generator().manual_seed(1)
    images, labels = poisoned.data.images["test"], poisoned.data.labels["test"]
    poisoned.data.images["test"] = torch.randint(
        0, 256, images.shape, generator=gen, dtype=images.dtype
    )
    poisoned.data.labels["test"] = labels[torch.randperm(len(labels), generator=gen)]
    poisoned.fit()
    assert without_seconds(poisoned.history) == without_seconds(clean.history)
    assert poisoned.evaluate("test") != clean.evaluate("test")


# -- the best epoch --------------------------------------------------------------------------------
@pytest.mark.parametrize("restore_best", [True, False])
def test_best_epoch_is_the_first_argmax_of_val_accuracy_and_restore_best_ends_with_it(
    tmp_path, restore_best
):
    """summary.best_epoch is the first epoch of highest val accuracy; with restore_best the final
    model (evaluated on val and test) is that epoch's, without it the last epoch's."""
    cfg = tiny(
        optim={"name": "sgd", "lr": 0.3},
        train={"epochs": 6, "precision": "fp32", "restore_best": restore_best},
    )
    run = fmnist.train(cfg, out=tmp_path, verbose=False)
    accuracies = [row["val_accuracy"] for row in run.metrics]
    best_epoch = accuracies.index(max(accuracies)) + 1
    assert run.summary["best_epoch"] == best_epoch < len(accuracies)
    # The summary describes the model the run keeps: the best epoch's, or the last one's.
    assert run.summary["val_accuracy"] == (max(accuracies) if restore_best else accuracies[-1])
    final = load_checkpoint(run.path / "ckpt" / "final.pt")["model"]
    best = load_checkpoint(run.dir.best_ckpt)["model"]
    assert all(torch.equal(final[k], best[k]) for k in final) == restore_best
    expected = accuracies[best_epoch - 1] if restore_best else accuracies[-1]
    assert run.evaluate("val")["accuracy"] == pytest.approx(expected)
    assert run.evaluate("test")["accuracy"] == pytest.approx(run.summary["test_accuracy"])


def test_best_epoch_is_the_first_of_epochs_tied_on_val_accuracy(tmp_path):
    """A later epoch becomes the best only by a strictly higher val accuracy, never by equalling
    it."""
    cfg = tiny(optim={"name": "sgd", "lr": 1e-6}, train={"epochs": 4, "precision": "fp32"})
    run = fmnist.train(cfg, out=tmp_path, verbose=False)
    accuracies = [row["val_accuracy"] for row in run.metrics]
    assert accuracies.count(max(accuracies)) > 1
    assert run.summary["best_epoch"] == accuracies.index(max(accuracies)) + 1
