"""What each ``fraud`` subcommand does; :mod:`fraud.cli` parses the arguments and calls these.

A command that runs a stage calls the same task function (:mod:`fraud.tasks`) as the DAG does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fraud.config import REPOSITORY_ROOT, ConfigError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fraud.config import Settings
    from fraud.model.protocol import Protocol


def print_payload(payload: object, as_json: bool) -> None:
    """Print a result as indented JSON, or as ``key: value`` lines."""
    if as_json:
        print(json.dumps(payload, indent=2, default=str))
    elif isinstance(payload, dict):
        for key, value in payload.items():
            print(f"{key}: {value}")
    else:
        print(payload)


def progress(message: str) -> None:
    """A line about long work, on stderr so that ``--json`` output stays parseable."""
    print(message, file=sys.stderr, flush=True)


def owner_warehouse() -> Engine:
    """An engine as the warehouse owner (FRAUD_OWNER_DATABASE_URL, else FRAUD_DATABASE_URL)."""
    from fraud.db import create_warehouse_engine

    return create_warehouse_engine(load_settings().require_owner_database_url(), pool_size=1)


def db_migrate(args: argparse.Namespace) -> int:
    """Apply pending ``sql/`` migrations and the declared privileges, as the owner; store the
    settings' retention minimum, which the warehouse then enforces on every drop."""
    from fraud.migrations import migrate
    from fraud.partitions import set_retention_minimum

    engine = owner_warehouse()
    try:
        applied = migrate(engine)
        with engine.begin() as connection:
            set_retention_minimum(connection, load_settings().retention_minimum_days)
    finally:
        engine.dispose()
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def db_logins(args: argparse.Namespace) -> int:
    """Create or update the pipeline's and the analysts' login roles, as the owner."""
    from fraud.logins import LOGINS, ensure_logins

    settings = load_settings()
    engine = owner_warehouse()
    try:
        with engine.begin() as connection:
            ensure_logins(connection, settings)
    finally:
        engine.dispose()
    for login, group in LOGINS.items():
        print(f"{login}: login, member of {group} only")
    return 0


def simulate(args: argparse.Namespace) -> int:
    """Simulate transactions and delayed labels into ``raw.*``."""
    from fraud.simulation.generate import simulate as run_simulation
    from fraud.simulation.params import SimulationParams
    from fraud.simulation.warehouse import next_transaction_id, write_simulation

    # The simulator plays the payments system: it writes raw.*, which the pipeline only reads.
    engine = owner_warehouse()
    with engine.begin() as connection:
        params = SimulationParams(
            seed=args.seed,
            n_customers=args.customers,
            n_terminals=args.terminals,
            start_date=args.start_date,
            n_days=args.days,
            radius=args.radius,
            label_delay_days=args.label_delay_days,
            label_delay_shape=None if args.fixed_delay else args.label_delay_shape,
            drift_start=args.drift_start,
            drift_strength=args.drift_strength,
            first_transaction_id=max(next_transaction_id(connection) - args.id_base, 1),
            id_base=args.id_base,
            bank_columns=args.bank_columns,
        )
        simulation = run_simulation(params, progress=progress)
        transactions, labels = write_simulation(connection, simulation, progress=progress)
    engine.dispose()
    print(
        f"wrote {transactions} transactions and {labels} labels"
        f" from {params.start_date} for {params.n_days} days"
    )
    return 0


def status(args: argparse.Namespace) -> int:
    """Champion version, last run per DAG, row counts."""
    from fraud.status import collect_status

    print_payload(collect_status(load_settings()), args.json)
    return 0


def validate(args: argparse.Namespace) -> int:
    """Run the quality gate for one date, exactly as the DAG task does."""
    from fraud.dates import day_interval
    from fraud.tasks import FailedBatch, validate_batch

    start, end = day_interval(args.date)
    try:
        summary = validate_batch(start, end, f"cli__{args.date}")
    except FailedBatch as error:
        _print_validation(error.result, args.json)
        print(f"batch failed: {error}", file=sys.stderr)
        return 1
    _print_validation(summary, args.json)
    return 0


def _print_validation(summary: Mapping[str, Any], as_json: bool) -> None:
    """Print a validation outcome: status, counts, one line per failed expectation, Data Docs."""
    if as_json:
        print_payload(summary, as_json=True)
        return
    print(f"status: {summary['status']}")
    print(f"run_id: {summary['run_id']}")
    print(f"interval: [{summary['interval_start']}, {summary['interval_end']})")
    for count in ("extracted", "validated", "quarantined"):
        print(f"{count}: {summary[f'{count}_count']}")
    for failure in summary["failures"]:
        print(f"failed ({failure['level']}): {failure['message']}")
    print(f"data_docs: {summary['data_docs_path']}")


def _run_id(label: str) -> str:
    """A new run id for one command: it tells this invocation's rows from those of the run it
    replaces."""
    return f"cli__{label}__{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"


def score(args: argparse.Namespace) -> int:
    """Score one date with the champion: every share, then the night's alerts, in one transaction."""
    from fraud.dates import day_interval
    from fraud.tasks import score_day

    start, end = day_interval(args.date)
    run_id = _run_id(args.date)
    summary = score_day(start, end, run_id)
    model_uri = f"models:/{load_settings().model_name}/{summary['model_version']}"
    print_payload({"run_id": run_id, **summary, "model_uri": model_uri}, args.json)
    return 0


def features(args: argparse.Namespace) -> int:
    """Build one date's features, share after share, as the ``build_features`` tasks do."""
    from fraud.dates import day_interval
    from fraud.resources import peak_rss_mib
    from fraud.tasks import build_features
    from fraud.timing import Stopwatch

    start, end = day_interval(args.date)
    run_id = _run_id(args.date)
    count = load_settings().feature_shares
    watch = Stopwatch()
    shares = []
    for index in range(count):
        shares.append(build_features(start, end, run_id, index, count))
        if not args.json:
            progress(f"share {index + 1}/{count}: {shares[-1]['feature_rows']:,} rows")
    summary = {
        "run_id": run_id,
        "date": args.date,
        "feature_rows": sum(share["feature_rows"] for share in shares),
        "history_rows": sum(share["history_rows"] for share in shares),
        "seconds": round(watch.stop(), 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "shares": shares,
    }
    print_payload(summary, args.json)
    return 0


def train(args: argparse.Namespace) -> int:
    """Retrain as ``fraud_retrain`` does, labels known before the cut-off, then apply the gate."""
    from fraud.dates import parse_moment
    from fraud.resources import peak_rss_mib
    from fraud.tasks import decide_promotion, train_challenger
    from fraud.timing import Stopwatch

    cutoff = parse_moment(args.as_of)
    watch = Stopwatch()
    challenger = train_challenger(cutoff, "manual: fraud train")
    trained = watch.lap()
    decision = decide_promotion(challenger, _run_id("train"))
    summary = {
        "label_cutoff": cutoff.isoformat(),
        "version": challenger["version"],
        "run_id": challenger["run_id"],
        "decision": decision["decision"],
        "training_rows": challenger["training_rows"],
        "training_frauds": challenger["training_frauds"],
        "validation_rows": challenger["validation_rows"],
        "genuine_fraction": challenger["genuine_fraction"],
        "seconds": {
            **challenger["seconds"],
            "train": round(trained, 3),
            "decide": round(watch.lap(), 3),
            "total": round(watch.stop(), 3),
        },
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    print_payload(summary, args.json)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Train on one window and test on a later one, as the Handbook's protocol does."""
    from fraud.db import warehouse_engine
    from fraud.model.protocol import Protocol, evaluate_protocol

    settings = load_settings()
    protocol = Protocol.from_dates(
        args.train_start,
        args.train_end,
        args.delay_days,
        args.test_start,
        args.test_end,
        args.known_cards_since,
    )
    engine = warehouse_engine(settings.require_database_url())
    if args.feedback_split and args.feedback_capacity is None:
        raise ConfigError("--feedback-split needs --feedback-capacity")
    if args.feedback_capacity is not None:
        return _evaluate_feedback(engine, settings, protocol, args)
    results = evaluate_protocol(engine, settings, protocol)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    metrics = list(next(iter(results.values())))
    print(f"{'':<20}" + "".join(f"{metric:>24}" for metric in metrics))
    for name, values in results.items():
        print(f"{name:<20}" + "".join(f"{values[metric]:>24.4f}" for metric in metrics))
    return 0


def _evaluate_feedback(
    engine: Engine, settings: Settings, protocol: Protocol, args: argparse.Namespace
) -> int:
    """The protocol replayed without and with the investigators' verdicts as labels."""
    from fraud.model.feedback_protocol import evaluate_with_feedback

    results = evaluate_with_feedback(
        engine, settings, protocol, args.feedback_capacity, split=args.feedback_split
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"investigators review {results['capacity']} cards a morning")
    for run, outcome in results.items():
        if not isinstance(outcome, dict):
            continue
        print(
            f"{run}: {outcome['test_payments']} test payments,"
            f" fraud stopped after a verdict {outcome['stopped_fraud_amount']:.2f}"
            f" on {outcome['cards_stopped']} cards"
        )
        for name, values in outcome["metrics"].items():
            print(f"  {name:<20}" + "".join(f"{m}={v:.4f}  " for m, v in values.items()))
    return 0


def model_rollback(args: argparse.Namespace) -> int:
    """Move ``champion`` back to the version it replaced."""
    from fraud.db import warehouse_engine
    from fraud.model.promotion import rollback

    settings = load_settings()
    previous, current = rollback(
        warehouse_engine(settings.require_database_url()), settings, args.reason
    )
    print(f"champion moved from version {previous} back to version {current}")
    return 0


def benchmarks() -> ModuleType:
    """The checkout's ``benchmarks`` package, which the worker image does not ship."""
    if not (REPOSITORY_ROOT / "benchmarks" / "__init__.py").is_file():
        raise ConfigError(
            f"fraud benchmark runs from a checkout: no benchmarks/ beside include/ in {REPOSITORY_ROOT}"
        )
    if str(REPOSITORY_ROOT) not in sys.path:
        sys.path.insert(0, str(REPOSITORY_ROOT))
    import benchmarks

    return benchmarks


def benchmark_scoring(args: argparse.Namespace) -> int:
    """Measure the scoring step beside the I/O floor and the to_sql way, in a scratch database."""
    benchmarks()
    from benchmarks.scoring import format_report, run_scoring_benchmark

    report = run_scoring_benchmark(
        load_settings(),
        rows=args.rows,
        skip_tutorial=args.skip_tutorial,
        keep=args.keep,
        customers=args.customers,
        seed=args.seed,
        model=args.model,
        progress=progress,
    )
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


def benchmark_night(args: argparse.Namespace) -> int:
    """One night's tasks and one retraining on a scratch warehouse of the size asked for."""
    benchmarks()
    from benchmarks.night import format_report, run_night_benchmark

    report = run_night_benchmark(
        load_settings(),
        rows_per_day=args.rows_per_day,
        history_days=args.history_days,
        keep=args.keep,
        progress=progress,
    )
    print(
        json.dumps(report.as_dict(), indent=2, default=str) if args.json else format_report(report)
    )
    return 0


def benchmark_page(args: argparse.Namespace) -> int:
    """The monitoring page read and rendered over a scratch warehouse of many nights."""
    benchmarks()
    from benchmarks.page import format_report, run_page_benchmark

    report = run_page_benchmark(
        load_settings(),
        rows_per_day=args.rows_per_day,
        nights=args.nights,
        alerts_per_day=args.alerts_per_day,
        renders=args.renders,
        keep=args.keep,
        progress=progress,
    )
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


def up(args: argparse.Namespace) -> int:
    """Bring up the local stack and run the nightly pipeline over the seeded history."""
    from fraud.local.demo import bring_up

    return bring_up(days=args.days, nights=args.nights)


def down(args: argparse.Namespace) -> int:
    """Stop everything ``fraud up`` started."""
    from fraud.local.stack import stop_stack

    stop_stack()
    print("stopped")
    return 0
