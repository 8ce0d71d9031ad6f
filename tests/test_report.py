"""Reports from small real run directories: valid files, one self-contained page, numbers equal to
the run's record, and a real browser (Debian's Chromium through Playwright) that loads every image
without console errors."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fmnist
from fmnist.analysis.collect import mean_std
from fmnist.data import CLASS_NAMES, load_arrays
from fmnist.metrics import overfitting_start
from fmnist.report import build_report
from fmnist.report.run import conv_feature_maps, summary_cards
from fmnist.runs import RunDir
from tests.conftest import tiny

CNN = {"name": "cnn", "filters": [8, 16], "dense": [32]}
PNG_MAGIC, GIF_MAGIC = b"\x89PNG\r\n\x1a\n", (b"GIF87a", b"GIF89a")


# -- fixtures: real runs, trained once per module --------------------------------------------------
@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    cfg = tiny(
        model=CNN,
        train={"epochs": 3},
        record={"filters": True, "histograms": True, "embeddings": True},
    )
    return fmnist.train(cfg, out=tmp_path_factory.mktemp("cnn"), verbose=False)


@pytest.fixture(scope="module")
def cnn_report(cnn_run):
    return build_report(cnn_run.path, image=7)


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return fmnist.train(tiny(), out=tmp_path_factory.mktemp("mlp"), verbose=False)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A hidden-size sweep over 2 seeds, an activation x optimiser grid, a 2-fold CV and one recipe
    with a reported number."""
    root = tmp_path_factory.mktemp("experiment")
    for seed in (0, 1):
        for hidden in (16, 32, 64):
            fmnist.train(
                tiny(name=f"mlp-h{hidden}", seed=seed, model={"name": "mlp", "hidden": [hidden]}),
                out=root / "sweep",
                verbose=False,
            )
    for activation in ("relu", "tanh"):
        for optimizer, lr in (
            ("adam", 1e-3),
            ("sgd", 0.05),
        ):  # a learning rate per optimiser, as studies do
            fmnist.train(
                tiny(
                    name=f"{activation}-{optimizer}",
                    model={"name": "mlp", "hidden": [24], "activation": activation},
                    optim={"name": optimizer, "lr": lr},
                ),
                out=root / "grid",
                verbose=False,
            )
    for fold in (0, 1):
        run = fmnist.train(
            tiny(
                name="softmax-cv",
                model={"name": "softmax"},
                data={"folds": 2, "fold": fold, "val_size": 0},
            ),
            out=root / "deep" / "cv",
            verbose=False,
        )
        recipe = {"name": "softmax-cv", "study": None, "point": None, "quick": False}
        (run.path / "recipe.json").write_text(json.dumps({**recipe, "reported": 83.13}))
    return root


@pytest.fixture(scope="module")
def experiment_report(experiment):
    return build_report(experiment)


# -- helpers ---------------------------------------------------------------------------------------
class _Page(HTMLParser):
    """Collects img sources, other URL attributes, table cells and summary cards of a report."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.imgs, self.urls, self.tables, self.cards = [], [], {}, {}
        self._table, self._cell, self._card_part, self._card = None, None, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs["src"])
        for key in ("src", "href"):
            if key in attrs and tag != "img":
                self.urls.append(attrs[key])
        if tag == "table":
            self._table = attrs.get("id", f"t{len(self.tables)}")
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self.tables[self._table].append([])
        if tag in ("td", "th"):
            self._cell = ""
        if tag == "div" and attrs.get("class") in ("label", "value"):
            self._card_part = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._card_part is not None:
            self._card_part += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(self._cell)
            self._cell = None
        if tag == "table":
            self._table = None
        if tag == "div" and self._card_part is not None:
            self._card.append(self._card_part)
            self._card_part = None
            if len(self._card) == 2:
                self.cards[self._card[0]] = self._card[1]
                self._card = []


def _rows(page: _Page, table: str) -> list[list[str]]:
    return page.tables[table][1:]  # without the header


def _by_column(page: _Page, table: str, key: str) -> dict[str, dict[str, str]]:
    """The rows of a table as {header: cell}, by their ``key`` cell."""
    header, *rows = page.tables[table]
    return {cells[header.index(key)]: dict(zip(header, cells)) for cells in rows}


def _markdown_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip()[1:-1].split("|")]


def _assert_valid_images(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.png")) + sorted(folder.glob("*.gif"))
    for path in files:
        head = path.read_bytes()[:8]
        assert head == PNG_MAGIC if path.suffix == ".png" else head[:6] in GIF_MAGIC, path
        with Image.open(path) as image:
            image.verify()
    return files


def _assert_self_contained(page: _Page) -> None:
    assert page.imgs and all(
        src.startswith(("data:image/png;base64,", "data:image/gif;base64,")) for src in page.imgs
    )
    assert all(url.startswith(("#", "data:")) for url in page.urls), (
        page.urls
    )  # no file or network fetches


# -- run report ------------------------------------------------------------------------------------
def test_run_report_files_are_valid_images_and_the_page_is_self_contained(cnn_run, cnn_report):
    assert cnn_report == cnn_run.path / "report" / "report.html"
    files = {p.name for p in _assert_valid_images(cnn_report.parent)}
    expected = {
        "learning_curves.png",
        "confusion_matrix.png",
        "per_class.png",
        "reliability.png",
        "mistake_maps.png",
        "class_maps.png",
        "confident_mistakes.png",
        "filters.png",
        "filters_evolution.gif",
        "feature_maps_7.png",
        "weight_histograms.png",
        "embedding_pca.png",
        "embedding_tsne.png",
    }
    assert expected <= files
    with Image.open(cnn_report.parent / "filters_evolution.gif") as gif:
        assert gif.n_frames == 4  # initial weights + 3 epochs
    page = _Page(cnn_report.read_text())
    _assert_self_contained(page)
    assert len(page.imgs) == len(expected)


def test_run_report_numbers_equal_the_run_record(cnn_run, cnn_report, real_data_dir):
    summary = json.loads((cnn_run.path / "summary.json").read_text())
    page = _Page(cnn_report.read_text())
    assert page.cards == dict(summary_cards(summary))
    assert page.cards["test accuracy"] == f"{summary['test_accuracy']:.2%}"
    per_class = {row[0]: row[1:] for row in _rows(page, "per-class")}
    assert list(per_class) == list(CLASS_NAMES)
    for name, cells in per_class.items():
        scores = summary["per_class"][name]
        assert cells == [
            f"{scores['precision']:.2%}",
            f"{scores['recall']:.2%}",
            f"{scores['f1']:.2%}",
            f"{scores['support']:,}",
        ]
    # the mistakes table: recounted from the predictions, the most confident wrong answers first
    labels, _, probs = RunDir(cnn_run.path).read_predictions()
    wrong = np.flatnonzero(probs.argmax(1) != labels)
    top = wrong[np.argsort(-probs[wrong].max(1), kind="stable")][:10]
    assert [int(row[0]) for row in _rows(page, "mistakes")] == top.tolist()
    assert [row[1] for row in _rows(page, "mistakes")] == [CLASS_NAMES[labels[i]] for i in top]
    # feature maps are of the chosen test image, named with its true class
    test_labels = load_arrays(real_data_dir)[0]["test_labels"]
    assert f"test image #7 (true: {CLASS_NAMES[test_labels[7]]}" in cnn_report.read_text()


def test_run_report_without_records_uses_the_final_weights(mlp_run):
    html = build_report(mlp_run.path, out=mlp_run.path / "plain").read_text()
    files = {p.name for p in _assert_valid_images(mlp_run.path / "plain")}
    assert {"filters.png", "weight_histograms.png", "learning_curves.png"} <= files
    assert not any(
        name.endswith(".gif") or name.startswith(("feature_maps", "embedding")) for name in files
    )
    assert "--record filters" in html and "no convolution layers" in html
    assert "in the final model (train with --record histograms" in html


def test_feature_maps_are_taken_after_the_activation(cnn_run):
    maps = conv_feature_maps(cnn_run.model, cnn_run.inputs(load_arrays()[0]["test_images"][:1]))
    assert [name for name, _ in maps] == ["conv 1", "conv 2"]
    assert maps[0][1].shape == (8, 28, 28) and maps[1][1].shape == (16, 14, 14)
    assert all((m >= 0).all() for _, m in maps)  # ReLU outputs: what the next layer sees


def test_overfitting_is_flagged_only_when_validation_loss_rises_while_training_loss_falls():
    def curve(val):
        return [
            {"epoch": e + 1, "train_loss": 1.0 / (e + 1), "val_loss": v} for e, v in enumerate(val)
        ]

    assert overfitting_start(curve([0.9, 0.7, 0.6, 0.65, 0.8])) == 3
    assert overfitting_start(curve([0.9, 0.7, 0.6, 0.55, 0.5])) is None
    assert (
        overfitting_start(curve([0.9, 0.6, 0.6, 0.601, 0.6])) is None
    )  # flat: within the 2% margin


# -- experiment report -----------------------------------------------------------------------------
def test_experiment_report_table_sweeps_grid_and_kfold(experiment, experiment_report):
    report = experiment_report
    assert report == experiment / "report" / "report.html"
    files = {p.name for p in _assert_valid_images(report.parent)}
    assert {"accuracy_vs_time.png", "sweep_1.png", "grid_1.png", "kfold.png"} <= files
    page = _Page(report.read_text())
    _assert_self_contained(page)
    table = _by_column(page, "results", "experiment")  # runs without a recipe: by run name
    assert set(table) == {
        "mlp-h16",
        "mlp-h32",
        "mlp-h64",
        "relu-adam",
        "relu-sgd",
        "tanh-adam",
        "tanh-sgd",
        "softmax-cv",
    }
    for name, row in table.items():
        accuracies = [
            json.loads(p.read_text())["test_accuracy"]
            for p in experiment.rglob("summary.json")
            if json.loads(p.read_text())["name"] == name
        ]
        mean, std = mean_std(accuracies)
        shown_mean, _, shown_std = row["test acc % (mean ± std)"].partition(" ± ")
        # to the digit shown: a mean on a rounding half may be shown either way (70.115 %)
        assert abs(float(shown_mean) - mean * 100) <= 0.005 + 1e-9
        if len(accuracies) > 1:
            assert abs(float(shown_std) - std * 100) <= 0.005 + 1e-9
        else:
            assert shown_std == ""  # one run has no spread to show
        n = len(accuracies)
        assert row["n"] == str(n) and row["recounted"] == f"{n}/{n}"  # every run recounted
    assert table["mlp-h16"]["n"] == "2" and table["softmax-cv"]["n"] == "2"
    softmax = table["softmax-cv"]
    ours = float(softmax["test acc % (mean ± std)"].split(" ± ")[0])
    assert softmax["reported %"] == "83.13" and softmax["k-fold acc %"]
    assert float(softmax["diff"].split()[0]) == pytest.approx(ours - 83.13, abs=0.011)
    assert f'<td class="below">{softmax["diff"]}</td>' in report.read_text()  # orange
    assert table["mlp-h16"]["reported %"] == table["mlp-h16"]["diff"] == ""
    captions = _figure_captions(report.read_text())
    assert (
        "model.hidden from 16 to 64: groups mlp-h16, relu-adam, mlp-h32, mlp-h64." in captions
    )  # relu-adam has hidden [24]
    assert "of groups relu-adam, relu-sgd, tanh-adam, tanh-sgd." in captions
    assert "accuracy on the fold held out from training" in captions
    assert len(_rows(page, "runs")) == 12


def test_the_report_results_table_says_what_fmnist_table_says(
    experiment, experiment_report, tmp_path
):
    done = _cli("table", experiment, "--output", tmp_path)
    assert done.returncode == 0, done.stderr
    markdown = [_markdown_cells(line) for line in done.stdout.splitlines() if line.startswith("| ")]
    assert _Page(experiment_report.read_text()).tables["results"] == markdown


def _figure_captions(html: str) -> str:
    return " ".join(part.split("</figcaption>")[0] for part in html.split("<figcaption>")[1:])


def test_sweep_and_grid_detection_follow_the_documented_rule():
    from fmnist.report.groups import find_grids, find_sweeps

    base = {
        "model.name": "mlp",
        "model.activation": "relu",
        "optim.name": "adam",
        "optim.lr": 0.001,
        "model.hidden": 32,
    }
    options = {f"h{h}": {**base, "model.hidden": h} for h in (8, 16, 32, 64)}
    options["big-lr"] = {**base, "optim.lr": 0.1}  # differs in another option: in no hidden sweep
    for act in ("relu", "tanh"):
        for opt, lr in (("adam", 0.001), ("sgd", 0.05)):
            options[f"{act}-{opt}"] = {
                **base,
                "model.hidden": 24,
                "model.activation": act,
                "optim.name": opt,
                "optim.lr": lr,
            }
    sweeps = find_sweeps(options)
    assert ("model.hidden", ["h8", "h16", "h32", "h64"]) in [
        (k, [g for g in fam if g.startswith("h")]) for k, fam in sweeps if k == "model.hidden"
    ]
    assert all("big-lr" not in fam for k, fam in sweeps if k == "model.hidden")
    grids = find_grids(options)
    assert [(a, b, sorted(f)) for a, b, f in grids] == [
        ("model.activation", "optim.name", ["relu-adam", "relu-sgd", "tanh-adam", "tanh-sgd"])
    ]


# -- CLI -------------------------------------------------------------------------------------------
def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "fmnist", *map(str, args)], capture_output=True, text=True
    )


def test_cli_report_and_its_errors(mlp_run, tmp_path):
    done = _cli("report", mlp_run.path, "--out", tmp_path / "r")
    assert done.returncode == 0, done.stderr
    assert (
        str(tmp_path / "r" / "report.html") in done.stdout
        and (tmp_path / "r" / "learning_curves.png").is_file()
    )
    empty = _cli("report", tmp_path / "r")  # a folder without runs
    assert (
        empty.returncode == 2
        and empty.stderr.count("\n") == 1
        and "no finished run" in empty.stderr
    )
    bad = _cli("report", mlp_run.path, "--image", "10000")
    assert bad.returncode == 2
    assert "--image is not a test image index; allowed: 0 to 9999" in bad.stderr


def test_cli_data_explore(tmp_path):
    done = _cli("data", "explore", "--out", tmp_path, "--sample", "300")
    assert done.returncode == 0, done.stderr
    files = {p.name for p in _assert_valid_images(tmp_path)}
    assert files == {
        "class_counts.png",
        "samples.png",
        "class_means.png",
        "pixels_pca.png",
        "pixels_tsne.png",
    }
    page = _Page((tmp_path / "index.html").read_text())
    _assert_self_contained(page)
    counts = {row[0]: row[1:] for row in _rows(page, "counts")}
    assert list(counts) == list(CLASS_NAMES)
    assert (
        sum(int(c[0].replace(",", "")) + int(c[1].replace(",", "")) for c in counts.values())
        == 60000
    )
    assert all(c[2] == "1,000" for c in counts.values())


# -- a real browser --------------------------------------------------------------------------------
def _open(context, html: Path, width: int, height: int = 900):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    errors, requests = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "request",
        lambda req: (
            requests.append(req.url) if not req.url.startswith(("data:", "file:")) else None
        ),
    )
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


@pytest.mark.parametrize("which", ["run", "experiment"])
def test_report_in_a_real_browser(
    which, browser, cnn_run, cnn_report, experiment_report, artifacts
):
    html = cnn_report if which == "run" else experiment_report
    summary = cnn_run.summary
    for width, label in ((1200, "laptop"), (390, "phone")):
        page, errors, requests = _open(browser, html, width)
        images = page.evaluate(
            "Array.from(document.images)"
            ".map(i => [i.complete, i.naturalWidth, i.getBoundingClientRect().width])"
        )
        assert images and all(
            done and natural > 0 and shown > 0 for done, natural, shown in images
        ), images
        # responsive: images shrink to the page; only wide tables scroll inside their own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert max(shown for *_, shown in images) <= width
        body = page.inner_text("body")
        if which == "run":
            assert f"{summary['test_accuracy']:.2%}" in page.inner_text(".cards")
            assert f"{summary['params']:,}" in page.inner_text(".cards")
        else:
            assert "mlp-h64" in page.inner_text("#results") and "softmax-cv" in body
        assert errors == [] and requests == []
        page.screenshot(path=str(artifacts / f"report_{which}_{label}.png"), full_page=True)
        page.close()


def test_a_report_leaves_the_users_matplotlib_backend_and_rcparams_as_they_were(cnn_run, tmp_path):
    """A notebook's own figures keep showing inline after fmnist draws: no global backend switch,
    no global style; and a figure fmnist returns shows itself in Jupyter as PNG."""
    import matplotlib

    from fmnist.viz.run import learning_curves

    users_backend = matplotlib.get_backend()
    try:
        with matplotlib.rc_context({"font.size": 13.0, "axes.grid": False}):
            matplotlib.use("svg")  # a backend fmnist would never choose itself
            before = dict(matplotlib.rcParams)
            build_report(cnn_run.path, out=tmp_path / "report")
            figure = learning_curves(cnn_run.metrics, best_epoch=None)
            after_backend, after = matplotlib.get_backend(), dict(matplotlib.rcParams)
    finally:
        matplotlib.use(users_backend)
    assert after_backend == "svg"
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}
    assert figure._repr_png_().startswith(PNG_MAGIC)
    assert (
        figure.axes[0].xaxis.get_gridlines()[0].get_visible()
    )  # fmnist's style, inside its figure
