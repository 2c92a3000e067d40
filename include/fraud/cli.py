"""The ``fraud`` command line: database, simulator, validation, models, status, the local stack."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import sqlalchemy.exc

from fraud.config import ConfigError, load_settings


def _print(payload: object, as_json: bool) -> None:
    if as_json:
        print(json.dumps(payload, indent=2, default=str))
    elif isinstance(payload, dict):
        for key, value in payload.items():
            print(f"{key}: {value}")
    else:
        print(payload)


def cmd_db_migrate(args: argparse.Namespace) -> int:
    """Apply pending ``sql/`` migrations."""
    from fraud.db import migrate
    from fraud.pipeline import warehouse

    applied = migrate(warehouse())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulate transactions and delayed labels into ``raw.*``."""
    from fraud.pipeline import warehouse
    from fraud.simulate import SimulationParams, next_transaction_id, simulate, write_simulation

    engine = warehouse()
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
            first_transaction_id=next_transaction_id(connection),
        )
        simulation = simulate(params)
        transactions, labels = write_simulation(connection, simulation)
    print(
        f"wrote {transactions} transactions and {labels} labels"
        f" from {params.start_date} for {params.n_days} days"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Champion version, last run per DAG, row counts."""
    from fraud.status import collect_status

    _print(collect_status(load_settings()), args.json)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Run the quality gate for one date, exactly as the DAG task does."""
    from fraud.pipeline import day_interval, validate_batch
    from fraud.validate import BatchValidationError

    start, end = day_interval(args.date)
    run_id = f"cli__{args.date}"
    try:
        summary = validate_batch(start, end, run_id)
    except BatchValidationError as error:
        from fraud.pipeline import outcome_summary

        _print_validation(outcome_summary(error.outcome), args.json)
        print(f"batch failed: {error}", file=sys.stderr)
        return 1
    _print_validation(summary, args.json)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score one date with the registry's champion, replacing that date's scores in one go."""
    from fraud.pipeline import day_interval, score_batch

    start, end = day_interval(args.date)
    # Every invocation is a new run: its id tells its rows from those of the run it replaces.
    run_id = f"cli__{args.date}__{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    summary = score_batch(start, end, run_id)
    _print({"run_id": run_id, **summary}, args.json)
    return 0


def _print_validation(summary: dict, as_json: bool) -> None:
    """Print a validation outcome: status, counts, one line per failed expectation, Data Docs."""
    if as_json:
        _print(summary, as_json=True)
        return
    print(f"status: {summary['status']}")
    print(f"run_id: {summary['run_id']}")
    print(f"interval: [{summary['interval_start']}, {summary['interval_end']})")
    for count in ("extracted", "validated", "quarantined"):
        print(f"{count}: {summary[f'{count}_count']}")
    for failure in summary["failures"]:
        print(f"failed ({failure['level']}): {failure['message']}")
    print(f"data_docs: {summary['data_docs_path']}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Train on one window and test on a later one, as the Handbook's protocol does."""
    from fraud.pipeline import warehouse
    from fraud.protocol import Protocol, evaluate_protocol

    settings = load_settings()
    protocol = Protocol.from_dates(
        args.train_start, args.train_end, args.delay_days, args.test_start, args.test_end
    )
    results = evaluate_protocol(warehouse(settings), settings, protocol)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    metrics = list(next(iter(results.values())))
    print(f"{'':<20}" + "".join(f"{metric:>24}" for metric in metrics))
    for name, values in results.items():
        print(f"{name:<20}" + "".join(f"{values[metric]:>24.4f}" for metric in metrics))
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    """Move ``champion`` back to the version it replaced."""
    from fraud.pipeline import warehouse
    from fraud.registry import rollback

    settings = load_settings()
    previous, current = rollback(warehouse(settings), settings, args.reason)
    print(f"champion moved from version {previous} back to version {current}")
    return 0


def cmd_benchmark_scoring(args: argparse.Namespace) -> int:
    """Measure the scoring step beside the I/O floor and the to_sql way, in a scratch database."""
    from fraud.benchmark import format_report, run_scoring_benchmark

    report = run_scoring_benchmark(
        load_settings(),
        rows=args.rows,
        skip_tutorial=args.skip_tutorial,
        keep=args.keep,
        customers=args.customers,
        seed=args.seed,
        model=args.model,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Bring up the local stack and run the nightly pipeline over the seeded history."""
    from fraud.localrun import bring_up

    return bring_up(days=args.days, nights=args.nights)


def cmd_down(args: argparse.Namespace) -> int:
    """Stop everything ``fraud up`` started."""
    from fraud.stack import stop_stack

    stop_stack()
    print("stopped")
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a YYYY-MM-DD date") from error


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from error
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="fraud", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="warehouse schema").add_subparsers(dest="db", required=True)
    db.add_parser("migrate", help="apply pending sql/ migrations").set_defaults(func=cmd_db_migrate)

    simulate = commands.add_parser("simulate", help="write simulated transactions into raw.*")
    simulate.add_argument("--seed", type=int, default=42)
    simulate.add_argument("--customers", type=int, default=3000)
    simulate.add_argument("--terminals", type=int, default=6000)
    simulate.add_argument("--start-date", type=_date, default=date(2026, 1, 1))
    simulate.add_argument("--days", type=int, default=90)
    simulate.add_argument("--radius", type=float, default=5.0)
    simulate.add_argument("--label-delay-days", type=float, default=7.0)
    simulate.add_argument("--label-delay-shape", type=float, default=4.0)
    simulate.add_argument(
        "--fixed-delay", action="store_true", help="every label after exactly the delay"
    )
    simulate.add_argument("--drift-start", type=_date, default=None)
    simulate.add_argument("--drift-strength", type=float, default=1.0)
    simulate.set_defaults(func=cmd_simulate)

    status = commands.add_parser("status", help="champion, last runs, row counts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    validate = commands.add_parser("validate", help="run the quality gate for one date")
    validate.add_argument("--date", required=True, type=lambda value: _date(value).isoformat())
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(func=cmd_validate)

    score = commands.add_parser(
        "score", help="score one date with the champion, replacing its scores atomically"
    )
    score.add_argument("--date", required=True, type=lambda value: _date(value).isoformat())
    score.add_argument("--json", action="store_true")
    score.set_defaults(func=cmd_score)

    evaluate = commands.add_parser(
        "evaluate", help="train and test on raw.* windows; print the model's and baselines' metrics"
    )
    evaluate.add_argument("--train-start", required=True, type=_date)
    evaluate.add_argument("--train-end", required=True, type=_date, help="last training day")
    evaluate.add_argument("--delay-days", required=True, type=int)
    evaluate.add_argument("--test-start", required=True, type=_date)
    evaluate.add_argument("--test-end", required=True, type=_date, help="last test day")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)

    model = commands.add_parser("model", help="registry operations").add_subparsers(
        dest="model", required=True
    )
    rollback = model.add_parser("rollback", help="move champion back to the previous version")
    rollback.add_argument("--reason", required=True)
    rollback.set_defaults(func=cmd_model_rollback)

    benchmark = commands.add_parser("benchmark", help="measure a stage").add_subparsers(
        dest="benchmark", required=True
    )
    scoring = benchmark.add_parser(
        "scoring",
        help="our scoring step vs the I/O floor and the to_sql way, in a scratch database",
    )
    scoring.add_argument("--rows", required=True, type=_positive, help="transactions of the day")
    scoring.add_argument(
        "--skip-tutorial", action="store_true", help="leave out the to_sql way (slow at large N)"
    )
    scoring.add_argument("--keep", action="store_true", help="keep the scratch database")
    scoring.add_argument(
        "--customers", type=_positive, default=5000, help="simulated population to replicate"
    )
    scoring.add_argument("--seed", type=int, default=7)
    scoring.add_argument(
        "--model",
        choices=("largest", "trained"),
        default="largest",
        help="largest: 300 trees of 31 leaves, the most the training search gives;"
        " trained: trained on the simulated history as retraining does",
    )
    scoring.add_argument("--json", action="store_true")
    scoring.set_defaults(func=cmd_benchmark_scoring)

    up = commands.add_parser("up", help="start the local stack and run the nightly pipeline")
    up.add_argument("--days", type=int, default=90, help="days of simulated history to seed")
    up.add_argument("--nights", type=int, default=7, help="nights the scheduler runs")
    up.set_defaults(func=cmd_up)
    commands.add_parser("down", help="stop the local stack").set_defaults(func=cmd_down)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become one line on stderr and a non-zero exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except ConfigError as error:
        print(f"fraud: configuration error: {error}", file=sys.stderr)
    except sqlalchemy.exc.SQLAlchemyError as error:
        from fraud.db import describe_error

        url = load_settings().database_url or ""
        print(f"fraud: {describe_error(error, url)}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - every failure is one line, never a traceback
        name = type(error).__name__
        message = str(error).splitlines()[0] if str(error) else ""
        print(f"fraud: {name}: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
