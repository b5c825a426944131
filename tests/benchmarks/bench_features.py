"""Ingest and feature-extraction speed on the real corpus.

Targets (issue 2): single e-mail (raw message in, vector out, parsing included) p50 <= 0.3 ms;
batch path >= 4,000 e-mails/s per core. Everything runs in this one process (one core).

The vector's reputation block needs a source: the training paths (records -> matrix) read the
point-in-time statistics of the reputation stage (``StatsByEmailId``), the serving paths (raw
-> vector) the Feast online store (SQLite) through an ``OnlineReputation`` with the
transformer's cache settings, as the transformer does. The lookup itself is measured apart
(:mod:`tests.benchmarks.reputation_cost`: SQLite and Redis, cached and uncached, the serving
reader against the Feast SDK: a table of its own).
"""

from __future__ import annotations

import gc
import resource
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spam_core.features import FeatureExtractor
from spam_core.ingest import ingest, read_records
from spam_core.message import parse_raw
from spam_trainer.features import fit_features
from tests.benchmarks import reputation_cost
from tests.utils.paths import SHARED_CORPUS

ARCHIVES = (
    "20030228_easy_ham.tar.bz2",
    "20030228_easy_ham_2.tar.bz2",
    "20030228_hard_ham.tar.bz2",
    "20030228_spam.tar.bz2",
    "20050311_spam_2.tar.bz2",
)


def _raw_messages(corpus: Path) -> list[bytes]:
    out = []
    for name in ARCHIVES:
        with tarfile.open(corpus / name) as tar:
            for m in tar:
                if m.isfile() and not m.name.endswith("cmds"):
                    out.append(tar.extractfile(m).read())
    return out


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(corpus: str | None = None) -> dict[str, float]:
    from spam_core.reputation.online import OnlineReputation
    from spam_trainer.reputation import load_reputation, reputation_stage

    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        manifest = ingest(corpus_dir, tmp / "ds")
        results["ingest_s"] = time.perf_counter() - started
        results["ingest_msgs"] = manifest.totals.messages
        started = time.perf_counter()
        reputation_stage(tmp / "ds", tmp / "work", tmp / "feast")
        results["reputation_s"] = time.perf_counter() - started
        train_stats = load_reputation(tmp / "work")
        started = time.perf_counter()
        fitted = fit_features(tmp / "ds", train_stats)
        results["fit_s"] = time.perf_counter() - started
        records, _ = read_records(tmp / "ds")
        # the serving source: the online store, cached as the transformer caches
        online = OnlineReputation.from_repo(tmp / "feast", cache_ttl_s=reputation_cost.CACHE_TTL_S)
        online.warm_up()
        extractor = FeatureExtractor(fitted)
        raws = _raw_messages(corpus_dir)
        gc.collect()

        # batch path: records -> matrix (training's statistics), raw -> records -> matrix (online)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            extractor.transform_records(records, train_stats)
            best = min(best, time.perf_counter() - started)
        results["batch_records_per_s"] = len(records) / best
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            extractor.transform_records([parse_raw(r) for r in raws], online)
            best = min(best, time.perf_counter() - started)
        results["batch_raw_per_s"] = len(raws) / best

        # single path: one raw message in, one vector out (reputation from the online store)
        for raw in raws[:200]:  # warm-up
            extractor.transform_raw(raw, online)
        lat: list[float] = []
        parse_lat: list[float] = []
        for _ in range(3):
            for raw in raws:
                t0 = time.perf_counter()
                rec = parse_raw(raw)
                t1 = time.perf_counter()
                extractor.transform_record(rec, online)
                t2 = time.perf_counter()
                lat.append(t2 - t0)
                parse_lat.append(t1 - t0)
        results["single_p50_ms"] = statistics.median(lat) * 1e3
        results["single_p99_ms"] = _pct(lat, 0.99) * 1e3
        results["single_mean_ms"] = statistics.fmean(lat) * 1e3
        results["parse_p50_ms"] = statistics.median(parse_lat) * 1e3
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lookups = reputation_cost.all_lookup_costs(tmp / "ds", tmp / "feast", records, tmp)
    for store, r in lookups.items():
        for state in ("uncached", "uncached_sdk", "cached"):
            results[f"reputation_{store}_{state}_p50_us"] = r[state]["p50_us"]

    table = Table(title=f"features benchmark — {len(raws)} real corpus messages, one process")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rows = [
        (
            "ingest whole corpus",
            f"{results['ingest_s']:.2f} s "
            f"({results['ingest_msgs'] / results['ingest_s']:,.0f} msg/s)",
            "",
        ),
        (
            "reputation stage (history, apply, point-in-time, materialize)",
            f"{results['reputation_s']:.2f} s",
            "",
        ),
        ("fit features (train split)", f"{results['fit_s']:.2f} s", ""),
        (
            "batch: records -> matrix",
            f"{results['batch_records_per_s']:,.0f} e-mails/s/core",
            ">= 4,000",
        ),
        (
            "batch: raw -> matrix (parse incl.)",
            f"{results['batch_raw_per_s']:,.0f} e-mails/s/core",
            "",
        ),
        ("single: raw -> vector p50", f"{results['single_p50_ms']:.3f} ms", "<= 0.3 ms"),
        ("single: raw -> vector p99", f"{results['single_p99_ms']:.3f} ms", ""),
        ("single: raw -> vector mean", f"{results['single_mean_ms']:.3f} ms", ""),
        ("  of which parse p50", f"{results['parse_p50_ms']:.3f} ms", ""),
        ("peak RSS", f"{results['peak_rss_mb']:.0f} MB", ""),
    ]
    rows += [
        (measure, f"p50 {p50}, p99 {p99}", "")
        for measure, p50, p99 in reputation_cost.rows(lookups)
    ]
    for row in rows:
        table.add_row(*row)
    console = Console(width=110)
    console.print(table)
    console.print(reputation_cost.reader_table(lookups))
    return results
