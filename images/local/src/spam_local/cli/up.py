"""``spam-platform up``: run the whole platform on this machine."""

from __future__ import annotations

import os

from spam_local.cli import app, local_settings
from spam_trainer.cli.common import CorpusOpt, console, err, fail, state
from spam_trainer.progress import Reporter


@app.command()
def up(corpus: CorpusOpt = None) -> None:
    """Run the whole platform on this machine (MLflow, Triton, transformer, gateway)."""
    from spam_core.errors import SpamCoreError
    from spam_local.config import get_local_settings
    from spam_local.platform import PlatformError
    from spam_local.platform import up as platform_up
    from spam_local.processes import ProcessError

    if corpus:
        os.environ["SPAM_CORPUS"] = corpus
        get_local_settings.cache_clear()
    # the summary below names the MLflow URL; MLflow's own "View run at" lines would only
    # interleave with the progress display
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    settings = local_settings()
    with Reporter(quiet=state.quiet, console=err) as reporter:
        try:
            result = platform_up(
                settings,
                reporter.note,
                lambda d, t: reporter.count_progress("Ray Tune trials", d, t),
            )
        except (PlatformError, ProcessError, SpamCoreError, ValueError) as exc:
            raise fail(str(exc), 1) from None
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
