"""``spam-platform ingest``: a corpus into a Parquet dataset + manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from spam_trainer.cli.common import (
    CorpusOpt,
    app,
    console,
    err,
    fail,
    state,
)
from spam_trainer.progress import Reporter


def _manifest_table(manifest: Any) -> Table:
    table = Table(
        title=f"ingested {manifest.totals.messages} distinct messages "
        f"({manifest.spam_rate:.1%} spam) in {manifest.seconds:.1f} s"
    )
    for col in (
        "source",
        "messages",
        "spam",
        "ham",
        "unlabeled",
        "duplicates",
        "skipped",
        "failed",
    ):
        table.add_column(
            col, justify="left" if col == "source" else "right", no_wrap=col == "source"
        )
    for name, c in manifest.by_source.items():
        table.add_row(
            name,
            *(
                str(getattr(c, f))
                for f in ("messages", "spam", "ham", "unlabeled", "duplicates", "skipped", "failed")
            ),
        )
    t = manifest.totals
    table.add_row(
        "[bold]total",
        *(
            f"[bold]{getattr(t, f)}"
            for f in ("messages", "spam", "ham", "unlabeled", "duplicates", "skipped", "failed")
        ),
    )
    return table


def run_ingest(
    corpus: str | None,
    out: Path | None,
    label: str | None = None,
    checksums: str | None = None,
    cache_dir: Path | None = None,
) -> tuple[Any, Path]:
    from spam_core.errors import SourceError
    from spam_core.ingest import ingest
    from spam_core.settings import get_settings

    settings = get_settings()
    source = corpus or settings.resolved_corpus()
    out = out or settings.datasets_dir / "spamassassin"
    with Reporter(quiet=state.quiet, console=err) as reporter:
        reporter.note(f"ingesting {source} -> {out}")
        try:
            manifest = ingest(
                source,
                out,
                label=label,  # type: ignore[arg-type]
                cache_dir=cache_dir or settings.resolved_cache_dir,
                checksums=checksums,
                progress=reporter.bytes_progress,
            )
        except SourceError as exc:
            raise fail(str(exc)) from None
    return manifest, out


@app.command()
def ingest(
    corpus: CorpusOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output directory (default $SPAM_HOME/datasets/spamassassin)."
        ),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="Label every message spam or ham (for sources without the SpamAssassin layout)."
        ),
    ] = None,
    checksums: Annotated[
        str | None,
        typer.Option(
            help="Verify archives against this SHA256SUMS file or URL; for a local corpus, "
            "'auto' uses the SHA256SUMS file beside the archives."
        ),
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Download cache.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the manifest totals as JSON.")
    ] = False,
) -> None:
    """Read a corpus into a Parquet dataset + manifest, with a deterministic split."""
    if label not in (None, "spam", "ham"):
        raise fail(f"--label must be spam or ham, not {label!r}")
    manifest, out_dir = run_ingest(corpus, out, label, checksums, cache_dir)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "out": str(out_dir),
                    "totals": manifest.totals.model_dump(),
                    "spam_rate": manifest.spam_rate,
                    "splits": {k: v.model_dump() for k, v in manifest.splits.items()},
                }
            )
        )
    else:
        console.print(_manifest_table(manifest))
        console.print(f"dataset: {out_dir}")
