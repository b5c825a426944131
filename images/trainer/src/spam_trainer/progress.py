"""Rich progress for long steps; silent under ``--quiet`` or ``CI``."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _AmountColumn(ProgressColumn):
    """``1.3/2.0 MB`` for byte tasks, ``7/20`` for counted ones."""

    def render(self, task: Task) -> Text:
        total = task.total if task.total is not None else 0
        if task.fields.get("unit") == "bytes":
            return Text(
                f"{decimal(int(task.completed))}/{decimal(int(total))}", style="progress.download"
            )
        return Text(f"{int(task.completed)}/{int(total)}", style="progress.download")


class Reporter:
    """Context manager exposing progress callbacks that the library functions accept."""

    def __init__(self, *, quiet: bool, console: Console) -> None:
        self.quiet = quiet
        self.console = console
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Reporter:
        if not self.quiet:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                _AmountColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"[dim]{message}[/]", soft_wrap=True)

    def _task(self, name: str, total: float | None, unit: str) -> TaskID:
        assert self._progress is not None
        task_id = self._tasks.get(name)
        if task_id is None:
            task_id = self._tasks[name] = self._progress.add_task(name, total=total, unit=unit)
        return task_id

    def bytes_progress(self, task: str, advance: int, total: int | None) -> None:
        """``progress(task, advance_bytes, total_bytes)`` callback (downloads, archives)."""
        if self._progress is not None:
            self._progress.update(self._task(task, total, "bytes"), advance=advance, total=total)

    def count_progress(self, task: str, done: int, total: int) -> None:
        """``progress(task, done, total)`` callback for counted steps (trials, batches)."""
        if self._progress is not None:
            self._progress.update(self._task(task, total, "count"), completed=done, total=total)

    def advance(self, task: str, n: int, total: int | None = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task(task, total, "count"), advance=n)
