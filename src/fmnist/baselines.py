"""Classic baselines with scikit-learn, recorded as ordinary run directories.

A baseline run has the same files a network run has where they make sense (config.yaml, env.json,
summary.json, predictions.csv, recipe.json), so tables and reports read both alike. Pixels are
scaled to [0, 1] and flattened (then standardised per pixel with the option ``standardize: true``);
the same stratified holdout/k-fold split and training subset as the networks are used
(``data.train_subset`` documents the subset the slow kernels are fitted on).

    logreg         LogisticRegression (multinomial, lbfgs)
    random_forest  RandomForestClassifier
    knn            KNeighborsClassifier
    linear_svm     LinearSVC (scores: softmax of decision values, not calibrated probabilities)
    svm            SVC, any kernel (rbf, poly, linear); same scores
    hog_svm        HOG features (scikit-image) then SVC
    mlp            MLPClassifier (one hidden layer of 100 ReLUs, Adam), as in Zalando's benchmark
    boosted_trees  HistGradientBoostingClassifier: gradient-boosted trees on the pixels (the
                   family of the XGBoost row study 000 cites)

``params`` counts what the fitted model stores to predict (coefficients, tree nodes, support or
training vectors); ``macs`` is multiply-accumulates per test image where that is a meaningful
number (linear models, kernel evaluations, neighbour distances) and null for trees and HOG.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from fmnist.config import DataConfig
from fmnist.errors import ConfigError
from fmnist.recipes import Baseline
from fmnist.runs import RunDir
from fmnist.schema import Strict, validated

# Defaults per baseline; a recipe's `baseline.options` override them.
DEFAULTS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 200},
    "random_forest": {"n_estimators": 100, "n_jobs": -1},
    "knn": {"n_neighbors": 5, "n_jobs": -1},
    "linear_svm": {"C": 0.1, "max_iter": 2000},
    "svm": {"kernel": "rbf", "C": 10.0, "gamma": "scale"},
    "hog_svm": {
        "kernel": "rbf",
        "C": 10.0,
        "gamma": "scale",
        "orientations": 9,
        "pixels_per_cell": 4,
        "cells_per_block": 2,
    },
    "mlp": {"hidden_layer_sizes": [100], "activation": "relu", "max_iter": 200},
    # A fixed number of rounds: the validation split, not an internal one, judges the model.
    "boosted_trees": {"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
}
_HOG_KEYS = ("orientations", "pixels_per_cell", "cells_per_block")


class BaselineRunConfig(Strict):
    """What a baseline run directory's config.yaml holds."""

    name: str | None = None
    seed: int = 0
    data: DataConfig = DataConfig()
    baseline: Baseline

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def baseline_config(data: dict[str, Any]) -> BaselineRunConfig:
    """Validate a baseline run config (a recipe's `config` may only set name, seed and data)."""
    return validated(
        BaselineRunConfig,
        data,
        "baseline config field",
        fix="a baseline recipe sets only name, seed, data and baseline",
        allowed_fields=lambda loc: ", ".join(BaselineRunConfig.model_fields),
    )


def build_classifier(name: str, options: dict[str, Any], seed: int):
    """The scikit-learn estimator for ``name`` with defaults, then ``options``.

    ``standardize: true`` (any baseline) puts a per-feature StandardScaler, fitted on the training
    split, in front, as Zalando's benchmark did for every classifier.
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    opts = {**DEFAULTS[name], **options}
    estimator = _estimator(name, {k: v for k, v in opts.items() if k != "standardize"}, seed)
    return make_pipeline(StandardScaler(), estimator) if opts.get("standardize") else estimator


def _estimator(name: str, opts: dict[str, Any], seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC

    if name == "logreg":
        return LogisticRegression(random_state=seed, **opts)
    if name == "random_forest":
        return RandomForestClassifier(random_state=seed, **opts)
    if name == "knn":
        return KNeighborsClassifier(**opts)
    if name == "linear_svm":
        return LinearSVC(random_state=seed, **opts)
    if name == "mlp":
        return MLPClassifier(random_state=seed, **opts)
    if name == "boosted_trees":
        return HistGradientBoostingClassifier(random_state=seed, **opts)
    return SVC(
        random_state=seed,
        decision_function_shape="ovr",
        **{k: v for k, v in opts.items() if k not in _HOG_KEYS},
    )


def hog_features(
    images: np.ndarray, orientations: int = 9, pixels_per_cell: int = 4, cells_per_block: int = 2
) -> np.ndarray:
    """Histogram-of-oriented-gradients vectors (scikit-image) of (N, 28, 28) uint8 images."""
    from skimage.feature import hog

    kw = {
        "orientations": orientations,
        "pixels_per_cell": (pixels_per_cell,) * 2,
        "cells_per_block": (cells_per_block,) * 2,
        "feature_vector": True,
    }
    return np.stack([hog(img, **kw) for img in images]).astype(np.float32)


def _features(name: str, options: dict[str, Any], images: np.ndarray) -> np.ndarray:
    if name == "hog_svm":
        opts = {**DEFAULTS[name], **options}
        return hog_features(images, **{k: opts[k] for k in _HOG_KEYS})
    return images.reshape(len(images), -1).astype(np.float32) / 255


def _scores(clf, x: np.ndarray) -> np.ndarray:
    """Class probabilities; for SVMs the softmax of decision values (a ranking, not calibrated)."""
    if hasattr(clf, "predict_proba") and getattr(clf, "probability", True):
        return clf.predict_proba(x)
    d = clf.decision_function(x)
    e = np.exp(d - d.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _size(clf, n_features: int, n_train: int) -> tuple[int, int | None]:
    """(stored numbers, MACs per image) of a fitted classifier; see the module docstring."""
    clf = clf[-1] if hasattr(clf, "steps") else clf  # the estimator after a StandardScaler
    if hasattr(clf, "coef_") and not hasattr(clf, "support_vectors_"):
        return int(clf.coef_.size + np.size(clf.intercept_)), int(clf.coef_.size)
    if hasattr(clf, "support_vectors_"):
        n_sv = len(clf.support_vectors_)
        return int(
            clf.support_vectors_.size + clf.dual_coef_.size + clf.intercept_.size
        ), n_sv * n_features
    if hasattr(clf, "coefs_"):  # MLP: weight matrices and bias vectors
        weights = sum(w.size for w in clf.coefs_)
        return int(weights + sum(b.size for b in clf.intercepts_)), int(weights)
    if hasattr(clf, "estimators_"):
        return int(sum(t.tree_.node_count for t in clf.estimators_)), None
    if hasattr(clf, "n_trees_per_iteration_"):  # boosted trees: a tree per class and round
        return int(sum(len(tree.nodes) for round_ in clf._predictors for tree in round_)), None
    return n_train * n_features, n_train * n_features  # k-NN keeps the training set


def _fit(name: str, options: dict[str, Any], seed: int, x: np.ndarray, y: np.ndarray):
    """The fitted estimator; an option scikit-learn does not take is one ConfigError (it checks
    them before any work: a misspelt name at construction, a bad value first thing in fit)."""
    from sklearn.utils._param_validation import InvalidParameterError  # sklearn >= 1.2

    try:
        return build_classifier(name, options, seed).fit(x, y)
    except (TypeError, InvalidParameterError) as exc:
        # InvalidParameterError is a TypeError too; any other TypeError is not the user's.
        if not isinstance(exc, InvalidParameterError) and "unexpected keyword" not in str(exc):
            raise
        raise ConfigError(
            f"baseline '{name}' does not take these options ({str(exc).splitlines()[0][:160]})",
            allowed=", ".join(f"{k}={v!r}" for k, v in DEFAULTS[name].items()) + ", standardize",
            got=options,
            fix="see the scikit-learn estimator's parameters, or remove the option",
        ) from None


def train_baseline(cfg: BaselineRunConfig, run: RunDir, *, verbose: bool = True) -> dict[str, Any]:
    """Fit a baseline on the training split, score validation, evaluate the test set once, record
    it all in ``run`` (made by ``spec.make_run``; an interrupted baseline has no checkpoints, so
    its folder is refitted whole)."""
    from fmnist.data import DeviceSplits
    from fmnist.metrics import write_summary

    run.write_config(cfg.to_dict())
    run.write_env("cpu", cfg.seed)
    data = DeviceSplits(cfg.data, "cpu")
    name, options = cfg.baseline.name, cfg.baseline.options
    images = {split: data.images[split][:, 0].numpy() for split in ("train", "val", "test")}
    labels = {split: data.labels[split].numpy() for split in ("train", "val", "test")}
    start = time.perf_counter()
    x_train = _features(name, options, images["train"])
    clf = _fit(name, options, cfg.seed, x_train, labels["train"])
    seconds = time.perf_counter() - start
    val_acc = (
        float((clf.predict(_features(name, options, images["val"])) == labels["val"]).mean())
        if len(labels["val"])
        else None
    )
    probabilities = _scores(
        clf, _features(name, options, images["test"])
    )  # the one test evaluation
    params, macs = _size(clf, x_train.shape[1], len(x_train))
    facts = {
        "name": cfg.name or name,
        "model": f"sklearn_{name}",
        "seed": cfg.seed,
        "val_accuracy": val_acc,
        "best_epoch": None,
        "epochs_run": None,
        "train_seconds": round(seconds, 3),
        "params": params,
        "macs": macs,
        "train_images": len(labels["train"]),
        "val_images": len(labels["val"]),
        "device": "cpu",
        "precision": "fp64",  # scikit-learn computes in float64
        "baseline": {
            "name": name,
            "options": {**DEFAULTS[name], **options},
            "scores": "probabilities"
            if name in ("logreg", "random_forest", "knn", "boosted_trees")
            else "softmax of decision values",
        },
    }
    summary = write_summary(run, facts, labels=labels["test"], probabilities=probabilities)
    if verbose:
        print(
            f"{name}: test accuracy {summary['test_accuracy']:.2%}  ({seconds:.1f}s fit)  "
            f"run: {run.path}"
        )
    return summary
