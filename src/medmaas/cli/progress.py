"""A rich progress bar that speaks the ``progress(message, fraction)`` protocol."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from medmaas.cli.context import err_console
from medmaas.kinds.base import Progress as ProgressFn


@contextmanager
def progress_bar(title: str, enabled: bool = True) -> Iterator[ProgressFn]:
    if not enabled:
        yield lambda message, fraction: None
        return
    with Progress(TextColumn("[bold]{task.fields[title]}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), TextColumn("{task.description}"), console=err_console,
                  transient=False) as bar:
        task = bar.add_task("", total=1.0, title=title)

        def update(message: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=message)

        yield update
