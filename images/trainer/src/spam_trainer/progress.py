"""Rich progress for long steps; silent under ``--quiet`` or ``CI``."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


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
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
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

    def bytes_progress(self, task: str, advance: int, total: int | None) -> None:
        """``progress(task, advance_bytes, total_bytes)`` callback."""
        if self._progress is None:
            return
        task_id = self._tasks.get(task)
        if task_id is None:
            task_id = self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(task_id, advance=advance, total=total)
