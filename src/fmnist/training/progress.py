"""What a person sees while a model trains: progress within each epoch and one row per epoch.

In a terminal the epoch has a live bar (images/s, time left). In a log file or a pipe, where a bar
cannot redraw, a plain line every ``LOG_EVERY_S`` seconds says the same, so a slow epoch (minutes on
an AVX2-only laptop) is never silent and a fast one adds nothing. Warnings go to stderr even in
quiet mode: they say the run is slower or odder than the user expects.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator

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
        if enabled and self.console.is_terminal:
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
        parts = [
            f"epoch {row['epoch']:3d}",
            f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}",
        ]
        if "val_accuracy" in row:
            parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}")
        parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.1f}s"]
        self.console.print("  ".join(parts) + ("  *" if best else ""))

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar:
            self._bar.stop()
            self._bar = None
