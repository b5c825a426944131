"""``spam-platform``: the one CLI, a thin layer over the library (the Feast pattern).

Commands only parse options, call library functions and format results. Heavy imports are
deferred into the commands so ``--help`` stays fast. Other images add command groups
through the ``spam_platform.cli`` entry-point group (``name = "module:typer_app"``).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from spam_trainer.progress import Reporter

app = typer.Typer(
    name="spam-platform",
    no_args_is_help=True,
    add_completion=False,
    help="spam-platform: e-mail spam detection, from corpus to served model.",
)
features_app = typer.Typer(no_args_is_help=True, help="Fit and inspect the 524 features.")
app.add_typer(features_app, name="features")

console = Console(stderr=False)
err = Console(stderr=True)


class State:
    quiet: bool = False


state = State()


@app.callback()
def _main(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars (also when CI is set).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "",
) -> None:
    from spam_core.logs import configure_logging
    from spam_core.settings import get_settings

    settings = get_settings()
    configure_logging(log_level or settings.log_level, settings.log_format)
    state.quiet = quiet or bool(os.environ.get("CI"))


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


# --------------------------------------------------------------------------- ingest
CorpusOpt = Annotated[
    str | None,
    typer.Option(
        "--corpus",
        "-c",
        help="Directory of archives, archive, message tree, maildir, mbox or "
        "https:// base URL. Default: $SPAM_CORPUS, else ../shared/data/spamassassin if present, "
        "else the public SpamAssassin corpus.",
    ),
]


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
            raise _fail(str(exc)) from None
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
            help="SHA256SUMS file or URL to verify "
            "archives against (a local directory's own "
            "SHA256SUMS when given any value for it)."
        ),
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Download cache.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the manifest totals as JSON.")
    ] = False,
) -> None:
    """Read a corpus into a Parquet dataset + manifest, with a deterministic split."""
    if label not in (None, "spam", "ham"):
        raise _fail(f"--label must be spam or ham, not {label!r}")
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


# --------------------------------------------------------------------------- features
def run_fit(dataset: Path, out: Path | None) -> tuple[Any, Path]:
    from spam_core import artifacts
    from spam_core.errors import SourceError
    from spam_core.settings import get_settings
    from spam_trainer.features import fit_features

    with Reporter(quiet=state.quiet, console=err) as reporter:
        reporter.note(f"fitting features on the train split of {dataset}")
        try:
            fitted = fit_features(dataset)
        except (SourceError, ValueError) as exc:
            raise _fail(str(exc)) from None
    out = out or get_settings().features_dir / f"features-{fitted.fingerprint[:12]}.json"
    artifacts.save(fitted, out)
    return fitted, out


@features_app.command("fit")
def features_fit(
    dataset: Annotated[Path, typer.Option("--dataset", "-d", help="Ingested dataset directory.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Artifact JSON path.")] = None,
) -> None:
    """Fit vocabulary, IDF and feature statistics on the training split -> versioned JSON."""
    fitted, path = run_fit(dataset, out)
    console.print(
        f"feature artifacts {fitted.fingerprint[:12]} "
        f"({len(fitted.feature_names)} features, fitted on "
        f"{fitted.fitted_on.n_documents} training e-mails): {path}"
    )


@features_app.command("describe")
def features_describe() -> None:
    """Print the feature table (name, group, meaning, range)."""
    from spam_core.features.spec import ENGINEERED, N_TFIDF

    table = Table(title=f"{N_TFIDF} TF-IDF terms + {len(ENGINEERED)} engineered features")
    for col in ("#", "name", "group", "meaning", "range"):
        table.add_column(col, no_wrap=col in ("#", "name"))
    table.add_row(
        f"0-{N_TFIDF - 1}", "tfidf:<term>", "tfidf", "sublinear TF x IDF, L2-normalized", "[0, 1]"
    )
    for i, f in enumerate(ENGINEERED, start=N_TFIDF):
        table.add_row(str(i), f.name, f.group, f.description, f.value_range)
    console.print(table)


@features_app.command("extract")
def features_extract(
    artifacts_path: Annotated[
        Path, typer.Option("--artifacts", "-a", help="Fitted artifact JSON.")
    ],
    message: Annotated[Path, typer.Argument(help="A raw RFC 822 message file.")],
) -> None:
    """Print the named feature vector of one raw message (non-zero values)."""
    from spam_core import artifacts
    from spam_core.errors import SpamCoreError
    from spam_core.features import FeatureExtractor

    try:
        extractor = FeatureExtractor(artifacts.load(artifacts_path))
        vector = extractor.transform_raw(message.read_bytes())
    except (SpamCoreError, OSError) as exc:
        raise _fail(str(exc)) from None
    console.print_json(
        json.dumps(
            {
                n: round(float(v), 6)
                for n, v in zip(extractor.feature_names, vector, strict=True)
                if v
            }
        )
    )


# --------------------------------------------------------------------------- up
@app.command()
def up(corpus: CorpusOpt = None) -> None:
    """The local platform's main job. Today: ingest the corpus and fit the features."""
    manifest, dataset = run_ingest(corpus, None)
    console.print(_manifest_table(manifest))
    splits = ", ".join(f"{k} {v.messages} ({v.spam} spam)" for k, v in manifest.splits.items())
    console.print(f"splits: {splits}")
    fitted, path = run_fit(dataset, None)
    stats = fitted.stats
    top = sorted(fitted.tfidf.vocabulary, key=lambda t: -stats[f"tfidf:{t}"].nonzero_fraction)
    console.print(
        f"features: {len(fitted.feature_names)} "
        f"({len(fitted.tfidf.vocabulary)} TF-IDF + "
        f"{len(fitted.feature_names) - len(fitted.tfidf.vocabulary)} engineered), "
        f"fingerprint {fitted.fingerprint[:12]} -> {path}"
    )
    console.print(f"most frequent terms: {', '.join(top[:15])}")


def _load_plugins() -> None:
    for ep in entry_points(group="spam_platform.cli"):
        try:
            app.add_typer(ep.load(), name=ep.name)
        except Exception as exc:
            err.print(f"[yellow]warning:[/] CLI plugin {ep.name!r} failed to load: {exc}")


def main() -> None:
    _load_plugins()
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
