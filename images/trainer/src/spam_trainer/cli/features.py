"""``spam-platform features fit | describe | extract``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from spam_trainer.cli.common import (
    FeastRepoOpt,
    console,
    err,
    fail,
    features_app,
    reputation_source,
    state,
)
from spam_trainer.progress import Reporter


def _point_in_time_reputation(dataset: Path):
    """The train e-mails' reputation statistics, as training computes them (history of the
    train split, point-in-time), from a private throw-away Feast repository: no online store
    is touched."""
    import tempfile

    from spam_core.ingest import load_manifest
    from spam_trainer.reputation import load_reputation, reputation_stage

    load_manifest(dataset)  # a clear SourceError for a directory that is not a dataset
    with tempfile.TemporaryDirectory(prefix="spam-features-") as tmp:
        reputation_stage(dataset, Path(tmp), Path(tmp) / "feast", online=False)
        return load_reputation(Path(tmp))


def run_fit(dataset: Path, out: Path | None) -> tuple[Any, Path]:
    from spam_core import artifacts
    from spam_core.errors import SourceError
    from spam_core.settings import get_settings
    from spam_trainer.features import fit_features

    with Reporter(quiet=state.quiet, console=err) as reporter:
        reporter.note(f"fitting features on the train split of {dataset}")
        try:
            fitted = fit_features(dataset, _point_in_time_reputation(dataset))
        except (SourceError, ValueError) as exc:
            raise fail(str(exc)) from None
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
    from spam_core.features.spec import ENGINEERED, LINEAR, N_TFIDF, REPUTATION

    table = Table(
        title=f"{N_TFIDF} TF-IDF terms + {len(ENGINEERED)} engineered + {len(LINEAR)} linear + "
        f"{len(REPUTATION)} reputation features"
    )
    for col in ("#", "name", "group", "meaning", "range"):
        table.add_column(col, no_wrap=col in ("#", "name"))
    table.add_row(
        f"0-{N_TFIDF - 1}", "tfidf:<term>", "tfidf", "sublinear TF x IDF, L2-normalized", "[0, 1]"
    )
    for i, f in enumerate(ENGINEERED + LINEAR + REPUTATION, start=N_TFIDF):
        table.add_row(str(i), f.name, f.group, f.description, f.value_range)
    console.print(table)


@features_app.command("extract")
def features_extract(
    artifacts_path: Annotated[
        Path, typer.Option("--artifacts", "-a", help="Fitted artifact JSON.")
    ],
    message: Annotated[Path, typer.Argument(help="A raw RFC 822 message file.")],
    feast_repo: FeastRepoOpt = None,
) -> None:
    """Print the named feature vector of one raw message (non-zero values)."""
    from spam_core import artifacts
    from spam_core.errors import SpamCoreError
    from spam_core.features import FeatureExtractor

    try:
        extractor = FeatureExtractor(artifacts.load(artifacts_path))
        vector = extractor.transform_raw(message.read_bytes(), reputation_source(feast_repo))
    except (SpamCoreError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print_json(
        json.dumps(
            {
                n: round(float(v), 6)
                for n, v in zip(extractor.feature_names, vector, strict=True)
                if v
            }
        )
    )
