"""What a person sees while a model trains: progress within each epoch and one row per epoch.

In a terminal the epoch has a live bar (images/s, time left). In Jupyter or Colab one display
holds the progress line and the epoch rows, and a second the loss and accuracy curves, both redrawn
in place (``live_curves(False)`` leaves the curves out). In a log file or a pipe, where a bar cannot
redraw, a plain line every ``LOG_EVERY_S`` seconds says the same, so a slow epoch (minutes on an
AVX2-only laptop) is never silent and a fast one adds nothing. Warnings go to stderr even in quiet
mode: they say the run is slower or odder than the user expects.
"""

from __future__ import annotations

import contextlib
import html
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

LOG_EVERY_S = 15.0
NOTEBOOK_EVERY_S = 0.5  # a notebook's progress line: often enough to look live, rarely enough
# that the kernel does not spend its time sending display updates

_live_curves: ContextVar[bool] = ContextVar("fmnist_live_curves", default=True)


@contextlib.contextmanager
def live_curves(enabled: bool) -> Iterator[None]:
    """Whether a run trained inside this block redraws its curves in a notebook (default: yes)."""
    token = _live_curves.set(enabled)
    try:
        yield
    finally:
        _live_curves.reset(token)


class _ImagesPerSecond(ProgressColumn):
    """Steps/s times the batch size: the throughput a user can compare across batch sizes."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("" if speed is None else f"{speed * task.fields['images_per_step']:,.0f} img/s")


class EpochProgress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)  # one line per epoch, also in logs
        self._bar = None
        self._notebook = None
        if enabled and self.console.is_jupyter:
            self._notebook = NotebookDisplay(curves=_live_curves.get())
        elif enabled and self.console.is_terminal:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _ImagesPerSecond(),
                TimeRemainingColumn(),
            )
            self._bar = Progress(*columns, console=self.console, transient=True)
            self._bar.start()

    def wrap(
        self, items: Iterable, total: int, description: str, *, images_per_step: int
    ) -> Iterator:
        """Yield ``items`` (``total`` steps of ``images_per_step`` images each) while showing
        progress."""
        if self._bar:
            yield from self._wrap_bar(items, total, description, images_per_step)
        elif self._notebook:
            yield from self._notebook.wrap(items, total, description, images_per_step)
        elif self.enabled:
            yield from self._wrap_log(items, total, description, images_per_step)
        else:
            yield from items

    def _wrap_bar(
        self, items: Iterable, total: int, description: str, images_per_step: int
    ) -> Iterator:
        task = self._bar.add_task(description, total=total, images_per_step=images_per_step)
        for item in items:
            yield item
            self._bar.advance(task)
        self._bar.remove_task(task)

    def _wrap_log(
        self, items: Iterable, total: int, description: str, images_per_step: int
    ) -> Iterator:
        start = last = time.perf_counter()
        for done, item in enumerate(items, 1):
            yield item
            now = time.perf_counter()
            if now - last >= LOG_EVERY_S and done < total:
                last = now
                rate = done / (now - start)
                self.console.print(
                    f"  {description}: {done * images_per_step:,}/"
                    f"{total * images_per_step:,} images ({done / total:.0%}), "
                    f"{rate * images_per_step:,.0f} img/s, {(total - done) / rate:.0f} s left"
                )

    def epoch_row(self, row: dict, *, best: bool) -> None:
        if not self.enabled:
            return
        if self._notebook:
            self._notebook.epoch(row, _row_text(row, best), best=best)
        else:
            self.console.print(_row_text(row, best))

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar:
            self._bar.stop()
            self._bar = None


def _row_text(row: dict, best: bool) -> str:
    """One epoch as one line: losses, accuracies, learning rate, seconds; '*' marks the best."""
    parts = [
        f"epoch {row['epoch']:3d}",
        f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}",
    ]
    if "val_accuracy" in row:
        parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}")
    parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.1f}s"]
    return "  ".join(parts) + ("  *" if best else "")


class NotebookDisplay:
    """Two displays in a notebook cell, each updated in place (IPython's ``display_id``): the
    progress line over the epoch rows so far, and the learning curves after every epoch.

    It needs only IPython, which every Jupyter kernel (and Colab) has; no widget library. Each
    curve update carries ``{"fmnist": {"epochs_drawn": N}}`` in its metadata, so an executed
    notebook shows how often the figure was redrawn.
    """

    def __init__(self, *, curves: bool) -> None:
        from IPython.display import HTML, display

        self._status = display(HTML(""), display_id=True)
        self._curves = display(HTML(""), display_id=True) if curves else None
        self.rows: list[dict] = []
        self.lines: list[str] = []
        self.best_epoch: int | None = None

    def wrap(self, items: Iterable, total: int, description: str, images_per_step: int) -> Iterator:
        start = last = time.perf_counter()
        for done, item in enumerate(items, 1):
            yield item
            now = time.perf_counter()
            if now - last >= NOTEBOOK_EVERY_S or done == total:
                last = now
                rate = done * images_per_step / max(now - start, 1e-9)
                self._show(
                    f"{description}: {done:,}/{total:,} steps, {rate:,.0f} img/s", done / total
                )

    def epoch(self, row: dict, line: str, *, best: bool) -> None:
        self.rows.append(row)
        self.lines.append(line)
        if best and "val_accuracy" in row:
            self.best_epoch = row["epoch"]
        self._show(f"epoch {row['epoch']} done", 1.0)
        if self._curves is not None:
            self._draw_curves()

    def _show(self, status: str, fraction: float) -> None:
        from IPython.display import HTML

        self._status.update(
            HTML(
                f'<progress value="{fraction:.3f}" max="1" style="width: 40%"></progress> '
                f"<code>{html.escape(status)}</code>"
                f"<pre>{html.escape(chr(10).join(self.lines))}</pre>"
            )
        )

    def _draw_curves(self) -> None:
        from IPython.display import Image

        from fmnist.viz.plot import png_bytes
        from fmnist.viz.run import learning_curves

        png = png_bytes(learning_curves(self.rows, self.best_epoch), dpi=80)
        self._curves.update(Image(data=png), metadata={"fmnist": {"epochs_drawn": len(self.rows)}})
