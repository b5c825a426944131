"""``make demo``: a walk through the running local platform, through its public API only, and
the drift job on two streams of corpus e-mails sent through it (:func:`drift_demo`)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from spam_core.scoring import TRACKS
from spam_local.config import LocalSettings

if TYPE_CHECKING:
    from spam_drift.report import DriftReport

SCAM = {
    "email_id": "demo-lottery",
    "subject": "WINNER!!! Claim your lottery prize now",
    "body": "Congratulations! Your e-mail address won $1,000,000 in our international lottery. "
    "Click here http://203.0.113.9/claim and send your bank account details to claim your "
    "prize. Act now, this offer expires in 24 hours!",
    "sender": "Lottery Board <winner8812@yahoo.com>",
    "date": "Sat, 07 Sep 2002 03:14:00 +0800",
}
MEETING = {
    "email_id": "demo-meeting",
    "subject": "Re: notes from Thursday's design review",
    "body": "Hi Bob,\n\nthanks for the notes. I updated the spec and checked the patch into CVS; "
    "the build issue on the test box is still open. Can we go through the remaining items at "
    "Thursday's meeting?\n\nAlice",
    "sender": "Alice Jones <alice@example.org>",
    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
}


def inference_log_rows(root: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in root.rglob("*.parquet"))


def run(
    settings: LocalSettings,
    api_key: str,
    say: Callable[[str], None],
    corpus_messages: list[bytes],
    batch_input: Path | None = None,
    streams: DriftStreams | None = None,
    loop_senders: list[str] | None = None,
    loop_contents: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """The walk; with ``streams``, :func:`drift_demo` (``results["drift"]``); with
    ``loop_senders`` (and the legitimate e-mails ``loop_contents``), last the feedback loop
    (:func:`feedback_loop`, ``results["loop"]``) and
    the lifecycle dry runs (:func:`lifecycle`, ``results["lifecycle"]``)."""
    headers = {"X-API-Key": api_key}
    results: dict[str, object] = {}
    with httpx.Client(base_url=settings.gateway_url, timeout=30) as client:
        health = client.get("/health", headers=headers).json()
        say(
            f"GET /health -> {health.get('status')} "
            f"({', '.join(str(s.get('name', s)) for s in health.get('services', []))})"
        )
        say(f"GET /ready -> {client.get('/ready').status_code}")
        rows_before = inference_log_rows(settings.inference_log_dir)

        for env in TRACKS:
            for email in (SCAM, MEETING):
                r = client.post("/predict", json=email, headers={**headers, "X-Environment": env})
                r.raise_for_status()
                p = r.json()
                results[f"{env}:{email['email_id']}"] = p["prediction"]
                say(
                    f"POST /predict [{env}] {email['email_id']}: {p['prediction']} "
                    f"(p={p['spam_probability']:.3f}, {p['confidence']}) by "
                    f"{p['model_name']} v{p['model_version']} in {p['latency_ms']:.1f} ms"
                )

        batch = [
            {"email_id": f"corpus-{i}", "raw": m.decode("utf-8", "replace")}
            for i, m in enumerate(corpus_messages[:20])
        ]
        r = client.post("/predict/batch-sync", json={"emails": batch}, headers=headers)
        r.raise_for_status()
        answer = r.json()
        preds = [p for p in answer["predictions"] if p is not None]  # null: that e-mail failed
        n_spam = sum(1 for p in preds if p["prediction"] == "spam")
        say(
            f"POST /predict/batch-sync with {len(batch)} corpus e-mails: {n_spam} spam, "
            f"{len(preds) - n_spam} ham, {answer['failed']} failed"
        )
        results["batch_sync"] = len(preds)

        if batch_input is not None:
            r = client.post(
                "/predict/batch",
                json={"input_path": str(batch_input)},
                headers={**headers, "X-Environment": "production"},
            )
            r.raise_for_status()
            job = r.json()
            say(f"POST /predict/batch {batch_input.name} -> job {job['job_id']} ({job['status']})")
            deadline = time.monotonic() + 300
            while job["status"] in ("pending", "running") and time.monotonic() < deadline:
                time.sleep(2)
                job = client.get(f"/predict/batch/{job['job_id']}", headers=headers).json()
            say(
                f"GET /predict/batch/{job['job_id']} -> {job['status']}: {job['counts']} -> "
                f"{job['output_path']}"
            )
            results["batch_job"] = job["status"]
            expected_rows = 4 + len(batch) + job["counts"].get("scored", 0)
        else:
            expected_rows = 4 + len(batch)

        deadline = time.monotonic() + 15
        rows_after = rows_before
        while time.monotonic() < deadline:
            rows_after = inference_log_rows(settings.inference_log_dir)
            if rows_after >= rows_before + expected_rows:
                break
            time.sleep(0.5)
        say(f"inference log {settings.inference_log_dir}: {rows_before} -> {rows_after} rows")
        results["log_rows_added"] = rows_after - rows_before
    if streams is not None:
        with httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=120) as client:
            results["drift"] = drift_demo(settings, client, streams, say)
    if loop_senders is not None:
        with httpx.Client(base_url=settings.gateway_url, headers=headers, timeout=60) as client:
            results["loop"] = feedback_loop(
                client,
                loop_senders,
                say,
                reports=LOOP_REPORTS,
                cache_ttl_s=settings.local_reputation_cache_ttl_s,
                contents=loop_contents,
            )
        results["lifecycle"] = lifecycle(settings, say)
    return results


# --------------------------------------------------------------------------- drift
SHIFTED_ROWS = 600
"""E-mails of the shifted stream: above the drift job's 500-row minimum for a verdict."""


@dataclass
class DriftStreams:
    """Two streams of corpus messages (raw bytes).

    * ``normal``: every message of the corpus's **test split** (the 15% no model is trained
      or tuned on, by content hash: :func:`spam_core.ingest.dataset.split_for`) in a shuffled
      order — new e-mails from the training distribution, in the corpus's ham/spam mix (the
      baseline's score reference is the served model's scores of these same e-mails, so on
      this stream the score test checks that serving reproduces them; the features' references
      are the training split's);
    * ``shifted``: ``SHIFTED_ROWS`` spam messages of the corpus and nothing else — the mix
      moves from about a third spam to all spam (the kind of shift a spam wave is).
    """

    normal: list[bytes]
    shifted: list[bytes]
    normal_spam: int
    """Spam among the normal stream (by the corpus's labels)."""


def drift_streams(source: str, cache_dir: Path, *, seed: int = 14) -> DriftStreams:
    """Read the corpus (as ``ingest`` does: archives, trees, mbox, a cached download) once."""
    from spam_core.ingest.dataset import split_for
    from spam_core.ingest.sources import RawMessage, iter_source

    seen: set[str] = set()
    normal: list[tuple[bytes, bool]] = []
    spam: list[bytes] = []
    for item in iter_source(source, cache_dir=cache_dir):
        if not isinstance(item, RawMessage):
            continue
        digest = hashlib.sha256(item.data).hexdigest()
        if digest in seen:  # two archives of the corpus share their messages
            continue
        seen.add(digest)
        if split_for(digest) == "test":
            normal.append((item.data, item.label == "spam"))
        if item.label == "spam":
            spam.append(item.data)
    rng = random.Random(seed)
    rng.shuffle(normal)
    return DriftStreams(
        normal=[m for m, _ in normal],
        shifted=rng.sample(spam, min(SHIFTED_ROWS, len(spam))),
        normal_spam=sum(1 for _, is_spam in normal if is_spam),
    )


@dataclass
class DriftRun:
    stream: str
    environment: str
    sent: int
    report: DriftReport


def _next_second() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=0) + timedelta(seconds=1)


def _send(client: httpx.Client, environment: str, messages: list[bytes], tag: str) -> int:
    """Scores ``messages`` in batches of 100; how many were answered (a refused e-mail is in
    the answer's ``errors``, not in the inference log)."""
    answered = 0
    for i in range(0, len(messages), 100):
        emails = [
            {"email_id": f"demo-{tag}-{i + k}", "raw": m.decode("utf-8", "replace")}
            for k, m in enumerate(messages[i : i + 100])
        ]
        r = client.post(
            "/predict/batch-sync", json={"emails": emails}, headers={"X-Environment": environment}
        )
        r.raise_for_status()
        answered += r.json()["succeeded"]
    return answered


def drift_demo(
    settings: LocalSettings,
    client: httpx.Client,
    streams: DriftStreams,
    say: Callable[[str], None],
    *,
    normal_environment: str = "production",
    shifted_environment: str = "staging",
) -> list[DriftRun]:
    """Send the normal stream to one environment and the shifted one to the other, in one
    window of their own (from the second before the first e-mail to the second after the
    inference log's flush: nothing else the demo sent is in it), then run the drift job for
    each environment over that window with its default thresholds, as the scheduled runs do
    (``$SPAM_HOME/inference-logs`` in, ``$SPAM_HOME/drift-reports`` out, the served bundles'
    baselines), and read the verdicts back through ``GET /monitoring/drift``.

    ``client``: the gateway with an operator key (the flush and /monitoring are operator
    routes)."""
    from spam_drift.job import local_config, run_drift
    from spam_drift.window import Window
    from spam_local.drift import served_baselines

    start = _next_second()
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
    plan = [
        ("normal", normal_environment, streams.normal),
        ("shifted", shifted_environment, streams.shifted),
    ]
    sent = {}
    for stream, environment, messages in plan:
        t0 = time.perf_counter()
        sent[stream] = _send(client, environment, messages, stream)
        say(
            f"POST /predict/batch-sync [{environment}]: {sent[stream]} corpus e-mails of the "
            f"{stream} stream in {time.perf_counter() - t0:.1f} s"
        )
    client.post("/admin/inference-log/flush").raise_for_status()
    end = _next_second()
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
    window = Window.resolve(start=start, end=end)

    baselines = served_baselines(settings)
    runs = []
    for stream, environment, _ in plan:
        config = local_config(
            environment,  # type: ignore[arg-type]
            window,
            home=settings.home,
            baselines=baselines,
        )
        report = run_drift(config)
        runs.append(DriftRun(stream, environment, sent[stream], report))
        say(
            f"drift job [{environment}] over {window.label}: {report.status}, "
            f"{'DRIFT DETECTED' if report.drift_detected else 'no drift'} "
            f"({report.rows} rows, {report.duration_s} s)"
        )
    api = client.get("/monitoring/drift").json()
    latest = {e["environment"]: e["latest"] for e in api.get("environments", []) if e.get("latest")}
    say(
        "GET /monitoring/drift -> "
        + "; ".join(
            f"{env}: {v['status']}, drift_detected={v['drift_detected']}, "
            f"score {v['drift_score'] if v['drift_score'] is None else round(v['drift_score'], 3)}"
            for env, v in latest.items()
        )
    )
    return runs


def top_drifting(report: DriftReport, n: int = 5) -> list[str]:
    """The drifted signals (features and the score) by PSI, largest first, as text."""
    signals = [
        s
        for v in report.versions
        for s in [*v.features, *([v.score] if v.score else [])]
        if s.drifted
    ]
    signals.sort(key=lambda s: -(s.psi or 0.0))
    return [
        f"{s.name} (PSI {s.psi:.2f}, KS {s.ks_statistic:.2f})"
        if s.psi is not None and s.ks_statistic is not None
        else s.name
        for s in signals[:n]
    ]


# --------------------------------------------------------------------------- feedback loop
LEGIT = {
    "subject": "Re: agenda for Thursday's release planning",
    "body": "Hi,\n\nthanks for sending the notes. I went through the open items and updated "
    "the schedule; the remaining question is the test plan for the new build. Could we go "
    "through it on Thursday after lunch?\n\nBest regards",
}
"""Ordinary work mail: the loop's content when no corpus ham is given."""
LOOP_REPORTS = 10
"""The "not spam" reports: the gateway's default daily bound for one reporter and one sender
(``SPAM_GATEWAY_FEEDBACK_MAX_PER_SENDER_DAY``); the local platform has one (operator) key."""
MAX_CANDIDATES = 40
"""Spam-heavy senders of the corpus tried (by scoring) before falling back to spam reports."""
MAX_CONTENTS = 20
"""Legitimate e-mails tried with each sender: the ham ones that score highest on content."""
BATCH = 100
"""E-mails per ``POST /predict/batch-sync`` call (the gateway's most)."""


def spam_heavy_senders(dataset_dir: Path) -> list[str]:
    """Sender addresses of the dataset's train split (what the reputation history holds) with
    at least two e-mails, all of them spam: fewest e-mails first (a few "not spam" reports
    weigh most against a short history)."""
    from collections import Counter

    from spam_core.ingest import read_records

    records, labels = read_records(dataset_dir, split="train")
    messages: Counter[str] = Counter()
    spam: Counter[str] = Counter()
    for record, label in zip(records, labels, strict=True):
        if record.sender_address:
            messages[record.sender_address] += 1
            spam[record.sender_address] += label == "spam"
    heavy = [s for s, n in messages.items() if n >= 2 and spam[s] == n]
    return sorted(heavy, key=lambda s: (messages[s], s))


def legitimate_mail(dataset_dir: Path) -> list[dict[str, str]]:
    """The ham e-mails of the dataset's test split (no model trained on them) as the API's
    fields carry them (subject and body; the sender is the loop's): the loop's candidates for
    "a legitimate sender's mail"."""
    from spam_core.ingest import read_records

    records, labels = read_records(dataset_dir, split="test")
    return [
        {"subject": r.subject or "", "body": r.body}
        for r, label in zip(records, labels, strict=True)
        if label == "ham" and r.body.strip()
    ]


def legit_email(sender: str, n: int, tag: str, content: dict[str, str] = LEGIT) -> dict[str, str]:
    """The ``n``-th e-mail of ``sender`` in this run (``tag``) with ``content``'s subject and
    body; ``n`` > 0 numbers the subject (the reports: each one a different e-mail); no ``Date``
    (the API's field is optional)."""
    subject = f"{content['subject']} ({tag}, #{n})" if n else content["subject"]
    return {
        "email_id": f"demo-loop-{tag}-{n}",
        "subject": subject,
        "body": content["body"],
        "sender": sender,
    }


@dataclass
class LoopRun:
    sender: str
    found_by_scoring: bool
    """True: a corpus sender whose history alone made the e-mail spam; False: that situation
    was created with "spam" reports first (no corpus sender did it)."""
    subject: str
    """The legitimate e-mail's subject (a test-split ham e-mail, or :data:`LEGIT`)."""
    content_only: float
    """The same e-mail from a sender without history (same local part, unknown domain): the
    content alone; ``before`` minus this is what the sender's history did."""
    before: float
    before_label: str
    after: float
    after_label: str
    ham_reports: int
    statuses: dict[str, int]
    """What became of the "not spam" reports (``applied``, ``capped``, ...)."""
    spam_statuses: dict[str, int] | None = None

    @property
    def flipped(self) -> bool:
        """Spam because of the sender's history, ham after the reports."""
        return self.before_label == "spam" and self.after_label == "ham"


def feedback_loop(
    client: httpx.Client,
    candidates: list[str],
    say: Callable[[str], None],
    *,
    reports: int,
    cache_ttl_s: float,
    contents: list[dict[str, str]] | None = None,
    environment: str = "production",
    tag: str | None = None,
) -> LoopRun:
    """A legitimate e-mail scored as spam because of its sender's history, ``reports``
    "not spam" reports (``POST /feedback/batch``), then the same e-mail from that sender
    again, once the transformer's reputation cache (``cache_ttl_s``) has let the new totals
    through.

    ``contents``: legitimate e-mails (subject and body; default :data:`LEGIT` alone). Those
    scored ham from an unknown sender are kept, the :data:`MAX_CONTENTS` highest first. The
    sender is the first of ``candidates`` (spam-heavy corpus senders) whose history makes one
    of them spam; when none does, a fresh sender is given a spam-heavy history with "spam"
    reports first, and the run says so. Of the e-mails the sender's history makes spam, the
    one scored lowest without history is shown (the clearest ham on its content); when the
    history makes none spam, the highest. ``client``: the gateway with a key that may report
    (reporter or operator)."""
    tag = tag or datetime.now(UTC).strftime("%H%M%S")
    env = {"X-Environment": environment}

    def score(mail: dict[str, str]) -> dict:
        r = client.post("/predict", json=mail, headers=env)
        r.raise_for_status()
        return r.json()

    def score_all(mails: list[dict[str, str]]) -> list[dict | None]:
        out: list[dict | None] = []
        for i in range(0, len(mails), BATCH):
            r = client.post(
                "/predict/batch-sync", json={"emails": mails[i : i + BATCH]}, headers=env
            )
            r.raise_for_status()
            out.extend(r.json()["predictions"])
        return out

    def report(mails: list[dict[str, str]], label: str) -> dict[str, int]:
        r = client.post("/feedback/batch", json={"reports": [{**m, "label": label} for m in mails]})
        r.raise_for_status()
        return r.json()["counts"]

    def nonce() -> str:
        return f"{random.randrange(16**8):08x}"

    unknown = f"newcomer@demo-{tag}-{nonce()}.example"
    offered = contents or [LEGIT]
    first_pass = score_all(
        [legit_email(unknown, 0, f"{tag}-c{i}", c) for i, c in enumerate(offered)]
    )
    scored = sorted(
        (
            (p["spam_probability"], i)
            for i, p in enumerate(first_pass)
            if p is not None and p["prediction"] == "ham"
        ),
        reverse=True,
    )[:MAX_CONTENTS]
    if not scored:
        scored = [(first_pass[0]["spam_probability"] if first_pass[0] else 0.0, 0)]
    pool = [offered[i] for _, i in scored]
    say(
        f"POST /predict/batch-sync [{environment}] {len(offered)} legitimate e-mails from an "
        f"unknown sender ({unknown}): {len(pool)} kept, the ham ones scored highest on content "
        f"(p {scored[-1][0]:.3f}..{scored[0][0]:.3f})"
    )

    def made_spam(sender: str, label: str) -> tuple[int, dict] | None:
        """(index in pool, prediction) of the e-mail to show for ``sender``, None if its
        history makes none of the pool spam."""
        preds = score_all([legit_email(sender, 0, f"{label}-{i}", c) for i, c in enumerate(pool)])
        spam = [i for i, p in enumerate(preds) if p is not None and p["prediction"] == "spam"]
        if not spam:
            return None
        i = max(spam)  # the pool runs from the highest content score down
        return i, preds[i]  # type: ignore[return-value]

    chosen, shown = None, None
    for n, sender in enumerate(candidates[:MAX_CANDIDATES]):
        shown = made_spam(sender, f"{tag}-try{n}")
        if shown is not None:
            chosen = sender
            break
    found, spam_statuses, ham_reports = chosen is not None, None, reports
    if chosen is None:
        # one reporter's reports of one sender are bounded per day (spam and ham alike):
        # half of them give the sender its spam history, the other half take it back
        seed = reports // 2
        ham_reports = reports - seed
        chosen = f"bulk@demo-{tag}-{nonce()}.example"
        say(
            f"no spam-heavy corpus sender (of {min(len(candidates), MAX_CANDIDATES)} tried) "
            f"makes one of these e-mails spam: giving {chosen} a spam history with {seed} "
            '"spam" reports first'
        )
        spam_statuses = report(
            [
                {**legit_email(chosen, 100 + i, tag), "subject": f"Cheap meds #{i}", "body": b}
                for i, b in enumerate([SCAM["body"]] * seed)
            ],
            "spam",
        )
        say(f'POST /feedback/batch {seed} x "spam" -> {spam_statuses}')
        time.sleep(cache_ttl_s)
        shown = made_spam(chosen, f"{tag}-seeded")
    if shown is None:
        index, first = 0, score(legit_email(chosen, 0, f"{tag}-seeded", pool[0]))
    else:
        index, first = shown
    content = pool[index]
    first_mail = legit_email(chosen, 0, tag, content)
    say(
        f'POST /predict [{environment}] "{content["subject"][:60]}" from {chosen} '
        f"({'spam-heavy corpus history' if found else 'spam-reported sender'}): "
        f"{first['prediction']} (p={first['spam_probability']:.3f})"
    )
    # the content alone, exactly: the same subject and body from the same local part at a
    # domain without history (the engineered sender features read the local part)
    twin = f"{chosen.partition('@')[0]}@fresh-{tag}-{nonce()}.example"
    content_only = score(
        {**first_mail, "email_id": f"{first_mail['email_id']}-twin", "sender": twin}
    )
    say(
        f"POST /predict [{environment}] that e-mail from {twin} (no history): "
        f"{content_only['prediction']} (p={content_only['spam_probability']:.3f}) - the history "
        f"moved it by {first['spam_probability'] - content_only['spam_probability']:+.3f}"
    )
    statuses = report(
        [legit_email(chosen, i, tag, content) for i in range(1, ham_reports + 1)], "ham"
    )
    say(f'POST /feedback/batch {ham_reports} x "not spam" for {chosen} -> {statuses}')
    if cache_ttl_s > 0:
        say(f"waiting {cache_ttl_s:g} s: the transformer's reputation cache TTL")
        time.sleep(cache_ttl_s)
    after = score({**first_mail, "email_id": f"{first_mail['email_id']}-again"})
    say(
        f"POST /predict [{environment}] the same e-mail from {chosen} again: "
        f"{after['prediction']} (p={after['spam_probability']:.3f}, was "
        f"{first['spam_probability']:.3f})"
    )
    return LoopRun(
        sender=chosen,
        found_by_scoring=found,
        subject=content["subject"],
        content_only=content_only["spam_probability"],
        before=first["spam_probability"],
        before_label=first["prediction"],
        after=after["spam_probability"],
        after_label=after["prediction"],
        ham_reports=ham_reports,
        statuses=statuses,
        spam_statuses=spam_statuses,
    )


LIFECYCLE = (
    ("retrain", "--dry-run"),
    ("promote", "--to", "production", "--dry-run"),
    ("rollback", "--dry-run", "--reason", "demo: what a rollback would do"),
)
"""The model lifecycle after the feedback: each a dry run (nothing moves)."""


def lifecycle(settings: LocalSettings, say: Callable[[str], None]) -> dict[str, int]:
    """``spam-platform retrain --dry-run``, ``promote --dry-run`` and ``rollback --dry-run``
    against the local registry (``MLFLOW_TRACKING_URI`` when set, as the demo's drift part),
    their output shown as they print it; exit codes by command
    (``promote`` exits 1 when it would refuse, ``rollback`` 2 with no earlier version)."""
    import os
    import subprocess
    import sys

    env = {"MLFLOW_TRACKING_URI": settings.mlflow_uri, **os.environ, "COLUMNS": "120"}
    codes = {}
    for args in LIFECYCLE:
        say(f"$ spam-platform {' '.join(args)}")
        done = subprocess.run(
            [sys.executable, "-m", "spam_trainer", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        for line in (done.stdout + done.stderr).rstrip().splitlines():
            say(f"  {line}")
        codes[args[0]] = done.returncode
    return codes
