"""What a person sees while a model trains: a progress bar per epoch (terminals only) and one row per epoch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class EpochProgress:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.console = Console(highlight=False, soft_wrap=True)  # one line per epoch, also in logs
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True) if enabled and self.console.is_terminal else None
        if self._bar:
            self._bar.start()

    def wrap(self, items: Iterable, total: int, description: str) -> Iterator:
        if not self._bar:
            yield from items
            return
        task = self._bar.add_task(description, total=total)
        for item in items:
            yield item
            self._bar.advance(task)
        self._bar.remove_task(task)

    def epoch_row(self, row: dict, *, best: bool) -> None:
        if not self.enabled:
            return
        parts = [f"epoch {row['epoch']:3d}", f"train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}"]
        if "val_accuracy" in row:
            parts.append(f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.2%}")
        parts += [f"lr {row['lr']:.2e}", f"{row['seconds']:.1f}s"]
        self.console.print("  ".join(parts) + ("  *" if best else ""))

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def close(self) -> None:
        if self._bar:
            self._bar.stop()
            self._bar = None
