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
features_app = typer.Typer(no_args_is_help=True, help="Fit and inspect the 528 features.")
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
    from spam_core.features.spec import ENGINEERED, N_TFIDF, REPUTATION

    table = Table(
        title=f"{N_TFIDF} TF-IDF terms + {len(ENGINEERED)} engineered + {len(REPUTATION)} "
        "reputation features"
    )
    for col in ("#", "name", "group", "meaning", "range"):
        table.add_column(col, no_wrap=col in ("#", "name"))
    table.add_row(
        f"0-{N_TFIDF - 1}", "tfidf:<term>", "tfidf", "sublinear TF x IDF, L2-normalized", "[0, 1]"
    )
    for i, f in enumerate(ENGINEERED + REPUTATION, start=N_TFIDF):
        table.add_row(str(i), f.name, f.group, f.description, f.value_range)
    console.print(table)


FeastRepoOpt = Annotated[
    Path | None,
    typer.Option(
        help="Feast repository of the sender reputation (default $SPAM_FEAST_REPO or "
        "$SPAM_HOME/feast); without one the reputation features take their defaults."
    ),
]


def _reputation_source(repo: Path | None):
    """The online store of ``repo`` (or the configured one); defaults when there is none."""
    from spam_core.features import NoHistory
    from spam_core.reputation.repo import FEATURE_STORE_YAML
    from spam_core.settings import get_settings

    path = repo or get_settings().resolved_feast_repo
    if not (path / FEATURE_STORE_YAML).is_file():
        if repo is not None:
            raise _fail(f"{path}: no {FEATURE_STORE_YAML} (not a Feast feature repository)")
        err.print(
            f"[yellow]no Feast repository at {path}: the reputation features take their "
            "defaults (train once, or pass --feast-repo)[/]"
        )
        return NoHistory()
    from spam_core.reputation.online import OnlineReputation

    return OnlineReputation.from_repo(path)


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
        vector = extractor.transform_raw(message.read_bytes(), _reputation_source(feast_repo))
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


# --------------------------------------------------------------------------- train
def _dataset_for(corpus: str | None, dataset: Path | None, reingest: bool) -> Path:
    """An ingested dataset: ``--dataset``, or the default one (re)ingested from the corpus."""
    from spam_core.errors import SourceError
    from spam_core.ingest import load_manifest
    from spam_core.settings import get_settings

    if dataset is not None:
        try:
            load_manifest(dataset)
        except SourceError as exc:
            raise _fail(str(exc)) from None
        return dataset
    settings = get_settings()
    source = corpus or settings.resolved_corpus()
    default = settings.datasets_dir / "spamassassin"
    if not reingest:
        try:
            if load_manifest(default).source == str(source):
                if not state.quiet:
                    err.print(
                        f"[dim]reusing the dataset ingested from {source} in {default} "
                        "(--reingest to read the corpus again)[/]",
                        soft_wrap=True,
                    )
                return default
        except (SourceError, ValueError):
            pass
    _, out = run_ingest(str(source), default)
    return out


@app.command()
def train(
    corpus: CorpusOpt = None,
    dataset: Annotated[
        Path | None, typer.Option(help="Use this ingested dataset instead of ingesting --corpus.")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Ray Tune trials (default $SPAM_TRIALS or 20).")
    ] = None,
    cpus: Annotated[int | None, typer.Option(min=1, help="CPUs for Ray (default: all).")] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Parallel trials (default: one per CPU; 1 is bit-reproducible)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the search and of every fit.")] = None,
    max_rounds: Annotated[int, typer.Option(min=10, help="Upper bound of boosting rounds.")] = 1000,
    register: Annotated[bool, typer.Option(help="Register the model in MLflow.")] = True,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Working directory for this training (default $SPAM_HOME/models/<time>)."
        ),
    ] = None,
    reingest: Annotated[
        bool, typer.Option(help="Ingest the corpus even if a dataset from it exists.")
    ] = False,
    feast_repo: Annotated[
        Path | None,
        typer.Option(
            help="Feast repository (feature_store.yaml) for the sender reputation history; its "
            "online store gets the latest totals (default $SPAM_FEAST_REPO or $SPAM_HOME/feast, "
            "created with SQLite when missing)."
        ),
    ] = None,
) -> None:
    """Train: reputation (Feast) -> features -> Ray Tune XGBoost -> evaluation -> ONNX/Triton
    -> MLflow registry."""
    from datetime import UTC, datetime

    from spam_core.errors import SpamCoreError
    from spam_trainer.onnx_export import ParityError
    from spam_trainer.registry import Gates
    from spam_trainer.settings import get_trainer_settings
    from spam_trainer.train import TrainOptions
    from spam_trainer.train import train as run_train
    from spam_trainer.tune import TuneSettings

    settings = get_trainer_settings()
    data_dir = _dataset_for(corpus, dataset, reingest)
    tune = TuneSettings(
        trials=trials or settings.trials,
        cpus=cpus or settings.cpus,
        concurrency=concurrency,
        seed=settings.seed if seed is None else seed,
        max_rounds=max_rounds,
    )
    workdir = out or settings.models_dir / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    with Reporter(quiet=state.quiet, console=err) as reporter:
        opts = TrainOptions(
            dataset_dir=data_dir,
            out_dir=workdir,
            tune=tune,
            feast_repo=feast_repo or settings.resolved_feast_repo,
            model_name=settings.model_name,
            register=register,
            gates=Gates(
                settings.gate_f1_min, settings.gate_roc_auc_min, settings.gate_cold_fpr_max
            ),
            on_trial_done=lambda d, t: reporter.count_progress("Ray Tune trials", d, t),
            log=reporter.note,
        )
        try:
            result = run_train(opts, settings)
        except (SpamCoreError, ValueError, ParityError, RuntimeError) as exc:
            raise _fail(str(exc), 1) from None
    m = result.trained.test_metrics
    reg = result.registration
    table = Table(
        title=f"test split ({int(m['n'])} e-mails) @ threshold {result.trained.threshold:.3f}"
    )
    for col in ("ROC-AUC", "PR-AUC", "precision", "recall", "F1", "FP", "FN"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{m['roc_auc']:.5f}",
        f"{m['pr_auc']:.5f}",
        f"{m['precision']:.4f}",
        f"{m['recall']:.4f}",
        f"{m['f1']:.4f}",
        str(int(m["fp"])),
        str(int(m["fn"])),
    )
    console.print(table)
    if result.slices:
        console.print(_slices_table(result.slices))
    console.print(
        f"MLflow run {reg.run_id}; ONNX parity max |dp| "
        f"{result.parity_max_abs_diff:.1e}; {result.seconds['total_s']:.0f} s in total "
        f"(tune {result.seconds['tune_s']:.0f} s); work dir {result.work_dir}",
        soft_wrap=True,
    )
    if reg.version is None:
        console.print(f"bundle (not registered): {result.work_dir / 'bundle'}", soft_wrap=True)
    elif reg.staging:
        console.print(
            f"registered {settings.model_name} v{reg.version} -> alias [bold green]staging[/]",
            soft_wrap=True,
        )
    else:
        console.print(
            f"registered {settings.model_name} v{reg.version}; [bold yellow]quality "
            f"gates not met, no alias[/]: {'; '.join(reg.gate_failures)}",
            soft_wrap=True,
        )
        raise typer.Exit(3)


_SLICE_LABELS = {
    "all": "all",
    "known_sender": "known sender",
    "unknown_sender_known_domain": "new sender, old domain",
    "unknown_sender": "new sender + domain",
    "cold": "all, as if unknown",
    "content_only": "known, content only",
}


def _slices_table(sliced: dict[str, Any]) -> Table:
    """The test split by sender history and the sender-disjoint split, both forms."""
    from rich import box

    from spam_trainer.train import slice_table

    table = Table(
        title=f"test split by sender history @ threshold {sliced['threshold']:.3f}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("slice", no_wrap=True)
    table.add_column("form", no_wrap=True)
    for col in ("ham", "spam", "AUC", "prec.", "recall", "ham FPR"):
        table.add_column(col, justify="right", no_wrap=True)

    def num(v: float, fmt: str) -> str:
        return "-" if v != v else format(v, fmt)

    for row in slice_table(sliced).to_dict("records"):
        disjoint = row["evaluation"] != "test split"
        table.add_row(
            "sender-disjoint" if disjoint else _SLICE_LABELS.get(row["slice"], row["slice"]),
            row["form"],
            str(int(row["ham"])),
            str(int(row["spam"])),
            num(row["roc_auc"], ".4f"),
            num(row["precision"], ".4f"),
            num(row["recall"], ".4f"),
            num(row["ham_fpr"], ".2%"),
        )
    return table


@app.command()
def promote(
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "production",
    version: Annotated[
        str | None, typer.Option(help="Candidate version (default: the one holding --from).")
    ] = None,
    from_alias: Annotated[
        str, typer.Option("--from", help="Alias naming the candidate.")
    ] = "staging",
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="Dataset whose test split both versions are scored on (default: the local one)."
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(help="Largest accepted drop of F1, ROC-AUC, precision or recall."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Compare only; move nothing.")] = False,
    feast_repo: FeastRepoOpt = None,
) -> None:
    """Move an alias (production) to a candidate after comparing both on the same test data."""
    from spam_trainer.promote import PromotionError
    from spam_trainer.promote import promote as run_promote
    from spam_trainer.registry import ALIASES, configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    if to not in ALIASES:
        raise _fail(f"--to must be one of {', '.join(ALIASES)}, not {to!r}")
    settings = get_trainer_settings()
    configure_mlflow(settings)
    data_dir = dataset or settings.datasets_dir / "spamassassin"
    try:
        result = run_promote(
            settings,
            dataset_dir=data_dir,
            to=to,
            version=version,
            source_alias=from_alias,
            tolerance=tolerance,
            dry_run=dry_run,
            reputation=_reputation_source(feast_repo),
        )
    except PromotionError as exc:
        raise _fail(str(exc)) from None
    table = Table(
        title=f"{settings.model_name}: v{result.candidate} vs "
        f"{'v' + result.previous if result.previous else 'no'} {to} "
        f"({result.n_test} test e-mails)"
    )
    for col in ("metric", f"v{result.candidate}", "current"):
        table.add_column(col, justify="right")
    for k in ("roc_auc", "f1", "precision", "recall"):
        prev = result.previous_metrics[k] if result.previous_metrics else None
        table.add_row(
            k, f"{result.candidate_metrics[k]:.4f}", "-" if prev is None else f"{prev:.4f}"
        )
    console.print(table)
    for reason in result.reasons:
        console.print(f"- {reason}", soft_wrap=True)
    verb = "would move" if dry_run else "moved"
    if result.promoted and result.previous != result.candidate:
        console.print(f"alias [bold green]{to}[/] {verb} to v{result.candidate}")
    elif not result.promoted:
        console.print(
            f"[bold red]refused[/]: alias {to} stays on "
            f"{'v' + result.previous if result.previous else 'nothing'}"
        )
        raise typer.Exit(1)


@app.command()
def score(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Message files, directories, archives, maildirs, mboxes (anything ingest reads)."
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="models:/spam-detector@production, "
            "models:/name/N, runs:/…, or an exported bundle dir.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines output file.")],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 256,
    feast_repo: FeastRepoOpt = None,
    explain: Annotated[
        bool,
        typer.Option(
            help="Add each message's top contributing features (TreeSHAP, signed, in log-odds) "
            "as `explanation`."
        ),
    ] = False,
    top: Annotated[
        int, typer.Option(min=1, max=50, help="Contributions per explanation (with --explain).")
    ] = 10,
) -> None:
    """Score raw e-mails with a model, no server: one JSON line per message."""
    from spam_core.bundle import ModelBundle
    from spam_core.bundle import resolve_model_ref as resolve_model
    from spam_core.errors import SpamCoreError
    from spam_trainer.registry import configure_mlflow
    from spam_trainer.score import score_to_file
    from spam_trainer.settings import get_trainer_settings

    try:
        if model.startswith(("models:/", "runs:/")):
            configure_mlflow(get_trainer_settings())
        path, version = resolve_model(model)
        bundle = ModelBundle.load(path)
        reputation = _reputation_source(feast_repo)
        with Reporter(quiet=state.quiet, console=err) as reporter:
            summary = score_to_file(
                inputs,
                bundle,
                output,
                reputation=reputation,
                model_version=version,
                batch_size=batch_size,
                on_batch=lambda n: reporter.advance("scored", n),
                explain=top if explain else 0,
            )
    except SpamCoreError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"scored {summary.scored} e-mails ({summary.spam} spam) with "
        f"{bundle.meta.model_name} v{version or bundle.version} -> {output}; "
        f"{summary.errors} unreadable, {summary.skipped} non-message files skipped",
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- local platform
@app.command()
def up(corpus: CorpusOpt = None) -> None:
    """Run the whole platform on this machine (MLflow, Triton, transformer, gateway)."""
    from spam_core.errors import SpamCoreError
    from spam_trainer.local.config import get_local_settings
    from spam_trainer.local.platform import PlatformError
    from spam_trainer.local.platform import up as platform_up
    from spam_trainer.local.processes import ProcessError

    if corpus:
        os.environ["SPAM_CORPUS"] = corpus
        get_local_settings.cache_clear()
    settings = get_local_settings()
    with Reporter(quiet=state.quiet, console=err) as reporter:
        try:
            result = platform_up(
                settings,
                reporter.note,
                lambda d, t: reporter.count_progress("Ray Tune trials", d, t),
            )
        except (PlatformError, ProcessError, SpamCoreError, ValueError) as exc:
            raise _fail(str(exc), 1) from None
    key_note = (
        "generated; kept in $SPAM_HOME/run/api-key"
        if result.generated_key
        else ("from SPAM_API_KEY" if settings.api_key else "kept in $SPAM_HOME/run/api-key")
    )
    console.print(
        f"[bold green]spam-platform is up[/] at {result.url} — staging "
        f"v{result.versions['staging']}, production v{result.versions['production']}",
        soft_wrap=True,
    )
    console.print(f"API key (operator, {key_note}): {result.api_key}", soft_wrap=True)
    console.print("try:", soft_wrap=True)
    body = (
        '{"email_id": "demo-1", "subject": "WINNER!!! Claim your prize now", "body": '
        '"Congratulations, you won $1,000,000! Click http://203.0.113.9/claim", '
        '"sender": "lottery@example.com"}'
    )
    console.print(
        f"  curl -s {result.url}/predict -H 'X-API-Key: {result.api_key}' "
        f"-H 'X-Environment: production' -H 'Content-Type: application/json' "
        f"-d '{body}'",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    console.print("stop with: make down (or spam-platform down)", soft_wrap=True)


@app.command()
def down() -> None:
    """Stop the local platform."""
    from spam_trainer.local.config import get_local_settings
    from spam_trainer.local.platform import down as platform_down

    stopped = platform_down(get_local_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status() -> None:
    """Processes and readiness of the local platform."""
    from spam_trainer.local.config import get_local_settings
    from spam_trainer.local.platform import status as platform_status

    table = Table(title="local platform")
    table.add_column("component")
    table.add_column("state")
    for name, value in platform_status(get_local_settings()).items():
        table.add_row(name, value)
    console.print(table)


@app.command()
def demo() -> None:
    """Walk through the running local platform: health, both tracks, batch, inference log."""
    import tarfile

    from spam_trainer.local.config import get_local_settings
    from spam_trainer.local.demo import run

    settings = get_local_settings()
    key_file = settings.run_dir / "api-key"
    key = settings.api_key or (key_file.read_text().strip() if key_file.is_file() else None)
    if not key:
        raise _fail("no API key: set SPAM_API_KEY to the key `make up` printed")
    messages: list[bytes] = []
    corpus = Path(settings.resolved_corpus())
    archive = corpus / "20030228_spam.tar.bz2"
    if archive.is_file():
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith("cmds") and len(messages) < 20:
                    messages.append(tar.extractfile(member).read())  # type: ignore[union-attr]
    if not messages:
        from spam_trainer.local.demo import MEETING, SCAM

        messages = [json.dumps(m).encode() for m in (SCAM, MEETING)]
    try:
        run(
            settings,
            key,
            lambda line: console.print(line, soft_wrap=True, markup=False),
            messages,
            archive if archive.is_file() else None,
        )
    except Exception as exc:
        raise _fail(f"{type(exc).__name__}: {exc} (is the platform up? `make up`)", 1) from None


@app.command("local-supervise", hidden=True)
def local_supervise() -> None:
    """(internal) Run and supervise Triton, transformer and gateway until SIGTERM."""
    from spam_trainer.local.config import get_local_settings
    from spam_trainer.local.platform import supervise

    raise typer.Exit(supervise(get_local_settings()))


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
