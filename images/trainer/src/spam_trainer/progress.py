"""Rich progress for long steps; silent under ``--quiet`` or ``CI``.

Every note starts a step: its line is printed, and a spinner with the elapsed time stays below
it until the next note (or the end), so a step that takes a while visibly works. Counted and
byte tasks (Ray Tune trials, downloads) get a bar. The live display is transient: when the
command ends nothing of it is left on the screen, so the command's own summary prints last.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class _AmountColumn(ProgressColumn):
    """``1.3/2.0 MB`` for byte tasks, ``7/20`` for counted ones."""

    def render(self, task: Task) -> Text:
        total = task.total if task.total is not None else 0
        if task.fields.get("unit") == "step":
            return Text("")
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
        self._step: TaskID | None = None

    def __enter__(self) -> Reporter:
        if not self.quiet:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                _AmountColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
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
        if self.quiet:
            return
        self.console.print(f"[dim]{message}[/]", soft_wrap=True)
        if self._progress is None:
            return
        for task in self._progress.tasks:  # finished bars make room for the new step
            if task.id != self._step and task.finished:
                self._progress.update(task.id, visible=False)
        if self._step is None:
            self._step = self._progress.add_task(message, total=None, unit="step")
        else:
            self._progress.reset(self._step, description=message, total=None)

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
