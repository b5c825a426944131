"""``spam-platform score`` throughput and peak memory on the whole shared corpus.

Scores every archive of the corpus directory (5,927 messages: the duplicated spam_2 archive is
scored twice, as a user pointing ``score`` at the folder would) with the real CLI in a
subprocess, and reports e-mails/s and the subprocess's peak RSS. The model is the newest bundle
under ``$SPAM_HOME/models`` if there is one (with the reputation of ``$SPAM_HOME/feast``), else
one trained here with a fixed configuration on the point-in-time reputation of a Feast
repository of its own, whose online store (SQLite) ``score --feast-repo`` then reads.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.utils.paths import SHARED_CORPUS


def quick_bundle(corpus: Path, work: Path) -> tuple[Path, Path]:
    """``(bundle, feast repo)``: a real bundle from the stage functions, with a fixed
    configuration instead of Tune, trained on the reputation history of the repository."""
    from spam_core.ingest import ingest
    from spam_trainer.reputation import load_reputation, reputation_stage
    from tests.utils.bundles import fixed_bundle

    ingest(corpus, work / "dataset")
    reputation_stage(work / "dataset", work / "reputation", work / "feast")
    stats = load_reputation(work / "reputation")
    return fixed_bundle(work / "dataset", work, stats), work / "feast"


def _newest_bundle() -> tuple[Path, Path] | None:
    """The newest bundle of this feature set under $SPAM_HOME/models, and $SPAM_HOME/feast."""
    import json

    from spam_core.features.spec import FEATURE_SET_VERSION

    home = Path(os.environ.get("SPAM_HOME", ".spam-platform"))
    bundles = [
        p
        for p in sorted((home / "models").glob("*/bundle/bundle.json"))
        if json.loads(p.read_text()).get("feature_set") == FEATURE_SET_VERSION
    ]
    if not bundles or not (home / "feast" / "feature_store.yaml").is_file():
        return None
    return bundles[-1].parent, home / "feast"


def main(corpus: str | None = None) -> dict[str, float]:
    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    with tempfile.TemporaryDirectory() as tmp:
        bundle, feast_repo = _newest_bundle() or quick_bundle(corpus_dir, Path(tmp))
        out = Path(tmp) / "scores.jsonl"
        cmd = [
            sys.executable,
            "-m",
            "spam_trainer",
            "--quiet",
            "score",
            str(corpus_dir),
            "--model",
            str(bundle),
            "--output",
            str(out),
            "--feast-repo",
            str(feast_repo),
        ]
        rss_file = Path(tmp) / "rss"
        timer = shutil.which("time") or (
            "/usr/bin/time" if Path("/usr/bin/time").exists() else None
        )
        if timer:  # the score process's own peak RSS, not any earlier child's
            cmd = [timer, "-f", "%M", "-o", str(rss_file), *cmd]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        if timer:
            peak_mb = int(rss_file.read_text().split()[-1]) / 1024
        else:
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        n = sum(1 for _ in out.open())
    results = {"emails": n, "seconds": seconds, "emails_per_s": n / seconds, "peak_rss_mb": peak_mb}
    table = Table(title=f"score — whole corpus directory, model {bundle}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("e-mails scored", f"{n:,}")
    table.add_row("wall time (incl. start-up)", f"{seconds:.1f} s")
    table.add_row("throughput", f"{results['emails_per_s']:,.0f} e-mails/s")
    table.add_row("peak RSS (score process)", f"{peak_mb:.0f} MB")
    Console(width=110).print(table)
    return results
