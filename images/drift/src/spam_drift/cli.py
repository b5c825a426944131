"""``spam-drift`` (the image's entry point) and ``spam-platform drift`` (the same Typer app,
registered through the ``spam_platform.cli`` entry-point group): one drift run.

Exit codes: 0 the job ran (drift or not, or too little data for a verdict); 2 bad input or
configuration (no inference log at the location, unreadable or corrupt Parquet, a missing
baseline, a bad window or option); 1 any other failure (e.g. the report could not be
written). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    help="Drift detection: the inference log of a window against each model version's "
    "training baseline.",
)
console = Console()
err = Console(stderr=True)

ENV = "SPAM_DRIFT_"


def drift(
    environment: Annotated[
        str, typer.Option(envvar=f"{ENV}ENVIRONMENT", help="staging or production.")
    ] = "production",
    since: Annotated[
        str | None,
        typer.Option(help="Window: this long before --end (or now): 30m, 1h, 1d. Default 1h."),
    ] = None,
    start: Annotated[str | None, typer.Option(help="Window start (ISO 8601, UTC).")] = None,
    end: Annotated[
        str | None, typer.Option(help="Window end, exclusive (ISO 8601, UTC; default now).")
    ] = None,
    inference_log: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV}INFERENCE_LOG_URL",
            help="Inference-log root (directory or abfs://container/prefix); "
            "default $SPAM_HOME/inference-logs.",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            envvar=f"{ENV}REPORTS_URL",
            help="Drift-reports location (directory or abfs:// URL); "
            "default $SPAM_HOME/drift-reports.",
        ),
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            help="VERSION=PATH: the baseline of a model version (bundle directory or "
            "drift_baseline.json); repeatable. Others come from the registry.",
        ),
    ] = None,
    model_ref_template: Annotated[
        str,
        typer.Option(
            envvar=f"{ENV}MODEL_REF_TEMPLATE",
            help="Registry reference of a version's bundle ({model_name}, {version}); "
            "'' turns the registry off.",
        ),
    ] = "models:/{model_name}/{version}",
    connection_string: Annotated[
        str | None,
        typer.Option(
            envvar="AZURE_STORAGE_CONNECTION_STRING",
            help="Azure Storage connection string for abfs:// (Azurite); without it: "
            "AZURE_STORAGE_ACCOUNT_NAME + DefaultAzureCredential (workload identity).",
            show_default=False,
        ),
    ] = None,
    min_rows: Annotated[
        int, typer.Option(envvar=f"{ENV}MIN_ROWS", help="Fewest rows of a version for a verdict.")
    ] = 500,
    psi_threshold: Annotated[float, typer.Option(help="PSI at which a signal drifts.")] = 0.2,
    ks_alpha: Annotated[float, typer.Option(help="Significance of BH-adjusted KS p.")] = 0.01,
    ks_min_statistic: Annotated[float, typer.Option(help="Smallest KS D that drifts.")] = 0.1,
    feature_share: Annotated[
        float, typer.Option(help="Share of drifted features that is drift.")
    ] = 0.2,
    spam_rate_delta: Annotated[
        float, typer.Option(help="Change of the predicted spam rate that is drift.")
    ] = 0.15,
    html: Annotated[bool, typer.Option(help="Write the Evidently HTML reports.")] = True,
    html_sample_rows: Annotated[int, typer.Option(help="Rows per side in the HTML.")] = 5000,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV}WEBHOOK_URL", help="POST alerts here on drift.", show_default=False
        ),
    ] = None,
    webhook_url_file: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}WEBHOOK_URL_FILE",
            help="File holding the webhook URL (a mounted Secret); wins over --webhook-url.",
            show_default=False,
        ),
    ] = None,
    webhook_format: Annotated[
        str, typer.Option(envvar=f"{ENV}WEBHOOK_FORMAT", help="json or slack.")
    ] = "json",
    alert_reminder: Annotated[
        str,
        typer.Option(
            envvar=f"{ENV}ALERT_REMINDER", help="Repeat an unchanged drift's alert after this."
        ),
    ] = "24h",
    pushgateway_url: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV}PUSHGATEWAY_URL",
            help="Push the results to this Prometheus Pushgateway.",
            show_default=False,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the JSON report instead of the table.")
    ] = False,
) -> None:
    """Compare a window of the inference log with each model version's baseline."""
    from pydantic import ValidationError

    from spam_core.logs import configure_logging
    from spam_core.settings import get_settings
    from spam_drift.analysis import Thresholds
    from spam_drift.baselines import parse_baseline_options
    from spam_drift.errors import DriftError
    from spam_drift.job import local_config, run_drift
    from spam_drift.window import Window, parse_duration

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if webhook_url_file is not None:
        try:
            webhook_url = webhook_url_file.read_text().strip()
        except OSError as exc:
            _fail(f"--webhook-url-file {webhook_url_file}: {exc.strerror or exc}", 2)
    try:
        window = Window.resolve(since=since or (None if start else "1h"), start=start, end=end)
        config = local_config(
            environment,  # type: ignore[arg-type]  # validated by DriftConfig
            window,
            home=settings.home,
            **{k: v for k, v in (("inference_log", inference_log), ("reports", output)) if v},
            baselines=parse_baseline_options(baseline),
            model_ref_template=model_ref_template,
            thresholds=Thresholds(
                min_rows=min_rows,
                psi=psi_threshold,
                ks_alpha=ks_alpha,
                ks_min_statistic=ks_min_statistic,
                feature_share=feature_share,
                spam_rate_delta=spam_rate_delta,
            ),
            connection_string=connection_string,
            html=html,
            html_sample_rows=html_sample_rows,
            webhook_url=webhook_url or None,
            webhook_format=webhook_format,
            alert_reminder=parse_duration(alert_reminder),
            pushgateway_url=pushgateway_url or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        _fail(f"{where}: {first['msg']}", 2)
    except DriftError as exc:
        _fail(str(exc), exc.exit_code)

    try:
        report = run_drift(config)
    except DriftError as exc:
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # never a traceback: one line, exit 1
        _fail(f"drift run failed: {type(exc).__name__}: {exc}", 1)

    if json_out:
        typer.echo(report.model_dump_json(indent=1))
    else:
        _print(report)
    raise typer.Exit(2 if report.status == "incomplete" else 0)


# `spam-platform drift` (a group through the plugin entry point) and `spam-drift` (one command)
app.callback(invoke_without_command=True)(drift)
single = typer.Typer(add_completion=False)
single.command(help=app.info.help)(drift)


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _print(report) -> None:
    title = (
        f"drift · {report.environment} · {report.window['start']} → {report.window['end']} · "
        f"{report.rows} rows"
    )
    table = Table(title=title)
    for column in (
        "version",
        "rows",
        "status",
        "drift",
        "score",
        "score PSI",
        "spam rate",
        "drifted features",
    ):
        table.add_column(column)
    for v in report.versions:
        table.add_row(
            v.model_version,
            str(v.rows),
            v.status,
            ("[red]yes[/]" if v.drift_detected else "no") if v.status == "ok" else "–",
            f"{v.drift_score:.2f}" if v.drift_score is not None else "–",
            f"{v.score.psi:.3f}" if v.score and v.score.psi is not None else "–",
            f"{v.spam_rate.current:.1%} (train {v.spam_rate.reference:.1%})"
            if v.spam_rate
            else "–",
            f"{len(v.drifted_features)}/{len(v.features)}" if v.status == "ok" else "–",
        )
    console.print(table)
    verdict = (
        "[bold red]DRIFT DETECTED[/]" if report.drift_detected else f"[green]{report.status}[/]"
    )
    console.print(f"verdict: {verdict}", highlight=False)
    for reason in report.reasons:
        console.print(f"  - {reason}", highlight=False, soft_wrap=True)
    console.print(f"report: {report.report_url}", highlight=False, soft_wrap=True)
    if report.alert and report.alert.configured:
        a = report.alert
        state = "sent" if a.sent else "deduplicated" if a.deduplicated else a.error or "not needed"
        console.print(f"alert: {state}", highlight=False)


def main() -> None:
    try:
        single()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
