"""The ``fraud`` command line: database, simulator, every stage for one date, models, benchmarks,
status and the local stack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date

import sqlalchemy.exc

from fraud import commands, verdict_commands
from fraud.config import ConfigError, load_settings
from fraud.db import describe_error


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
    subcommands = parser.add_subparsers(dest="command", required=True)

    db = subcommands.add_parser("db", help="warehouse schema").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("migrate", help="apply pending sql/ migrations, as the owner").set_defaults(
        func=commands.db_migrate
    )
    db.add_parser(
        "logins", help="create the pipeline's and the analysts' login roles, as the owner"
    ).set_defaults(func=commands.db_logins)

    simulate = subcommands.add_parser("simulate", help="write simulated transactions into raw.*")
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
    simulate.add_argument(
        "--id-base",
        type=int,
        default=0,
        help="added to every id (10**12 puts them where no ordinary number is)",
    )
    simulate.add_argument(
        "--no-bank-columns",
        dest="bank_columns",
        action="store_false",
        help="the Handbook's five columns only: channel, merchant and currency left null",
    )
    simulate.set_defaults(func=commands.simulate)

    review = subcommands.add_parser(
        "simulate-investigators",
        help="play the investigators the morning after a night: verdicts on its alerted cards",
    )
    review.add_argument("--date", required=True, type=_date, help="the night whose alerts")
    review.add_argument(
        "--capacity", type=int, default=None, help="cards a morning (default FRAUD_REVIEW_CAPACITY)"
    )
    review.add_argument(
        "--review-delay-hours", type=float, default=10.0, help="after the night's end"
    )
    review.add_argument(
        "--unreachable-fraud",
        type=float,
        default=0.15,
        help="share of taken-over cards not reached",
    )
    review.add_argument(
        "--unreachable-genuine", type=float, default=0.05, help="share of genuine cards not reached"
    )
    review.add_argument(
        "--review-error-rate", type=float, default=0.01, help="share of payments called wrong"
    )
    review.add_argument("--seed", type=int, default=42)
    review.add_argument("--json", action="store_true")
    review.set_defaults(func=verdict_commands.review_night)

    outcomes = subcommands.add_parser("outcomes", help="investigators' verdicts").add_subparsers(
        dest="outcomes", required=True
    )
    imported = outcomes.add_parser(
        "import",
        help="import a case-management export (transaction_id,outcome,decided_by,decided_at,note)",
    )
    imported.add_argument("file", help="the CSV export")
    imported.add_argument(
        "--skip-bad",
        action="store_true",
        help="import the good lines, write the bad ones with their reasons beside the file",
    )
    imported.add_argument("--json", action="store_true")
    imported.set_defaults(func=verdict_commands.outcomes_import)

    status = subcommands.add_parser("status", help="champion, last runs, row counts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=commands.status)

    validate = subcommands.add_parser("validate", help="run the quality gate for one date")
    validate.add_argument("--date", required=True, type=lambda value: _date(value).isoformat())
    validate.add_argument("--json", action="store_true")
    validate.set_defaults(func=commands.validate)

    score = subcommands.add_parser(
        "score", help="score one date with the champion, replacing its scores atomically"
    )
    score.add_argument("--date", required=True, type=lambda value: _date(value).isoformat())
    score.add_argument("--json", action="store_true")
    score.set_defaults(func=commands.score)

    features = subcommands.add_parser(
        "features", help="build one date's features, share by share, as the nightly DAG does"
    )
    features.add_argument("--date", required=True, type=lambda value: _date(value).isoformat())
    features.add_argument("--json", action="store_true")
    features.set_defaults(func=commands.features)

    train = subcommands.add_parser(
        "train", help="retrain with the labels known before a cut-off and apply the gate"
    )
    train.add_argument(
        "--as-of", required=True, type=lambda value: _date(value).isoformat(), help="label cut-off"
    )
    train.add_argument("--json", action="store_true")
    train.set_defaults(func=commands.train)

    evaluate = subcommands.add_parser(
        "evaluate", help="train and test on raw.* windows; print the model's and baselines' metrics"
    )
    evaluate.add_argument("--train-start", required=True, type=_date)
    evaluate.add_argument("--train-end", required=True, type=_date, help="last training day")
    evaluate.add_argument("--delay-days", required=True, type=int)
    evaluate.add_argument("--test-start", required=True, type=_date)
    evaluate.add_argument("--test-end", required=True, type=_date, help="last test day")
    evaluate.add_argument(
        "--known-cards-since",
        type=_date,
        help="drop test cards with a fraud since this day reported before their test day"
        " (default: --train-start, as the Handbook)",
    )
    evaluate.add_argument(
        "--feedback-capacity",
        type=_positive,
        metavar="K",
        help="replay the nights with investigators reviewing K cards each morning, and compare"
        " the runs without and with their verdicts as labels",
    )
    evaluate.add_argument(
        "--feedback-split",
        action="store_true",
        help="with --feedback-capacity: also try one model on the verdicts and one on the"
        " other labels, averaged",
    )
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=commands.evaluate)

    model = subcommands.add_parser("model", help="registry operations").add_subparsers(
        dest="model", required=True
    )
    rollback = model.add_parser("rollback", help="move champion back to the previous version")
    rollback.add_argument("--reason", required=True)
    rollback.set_defaults(func=commands.model_rollback)

    benchmark = subcommands.add_parser("benchmark", help="measure a stage").add_subparsers(
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
    scoring.set_defaults(func=commands.benchmark_scoring)

    night = benchmark.add_parser(
        "night",
        help="one night's tasks and a retraining, each in its own process, on a scratch warehouse",
    )
    night.add_argument("--rows-per-day", required=True, type=_positive, help="payments a day")
    night.add_argument("--history-days", required=True, type=_positive, help="days of history")
    night.add_argument("--keep", action="store_true", help="keep the scratch database")
    night.add_argument("--json", action="store_true")
    night.set_defaults(func=commands.benchmark_night)

    page = benchmark.add_parser(
        "page",
        help="the monitoring page's data and HTML over many nights, on a scratch warehouse",
    )
    page.add_argument("--rows-per-day", type=_positive, default=100_000, help="scores a night")
    page.add_argument("--nights", type=_positive, default=90, help="nights of history")
    page.add_argument("--alerts-per-day", type=_positive, default=150, help="alerts a night")
    page.add_argument("--renders", type=_positive, default=20, help="timed runs after a warm-up")
    page.add_argument("--keep", action="store_true", help="keep the scratch database")
    page.add_argument("--json", action="store_true")
    page.set_defaults(func=commands.benchmark_page)

    up = subcommands.add_parser("up", help="start the local stack and run the nightly pipeline")
    up.add_argument("--days", type=int, default=90, help="days of simulated history to seed")
    up.add_argument("--nights", type=int, default=7, help="nights the scheduler runs")
    up.set_defaults(func=commands.up)
    subcommands.add_parser("down", help="stop the local stack").set_defaults(func=commands.down)
    return parser


def _masked(line: str) -> str:
    """An error line with the configured secrets' values and every secret by its shape masked."""
    from fraud.config import Settings, deployment_secrets
    from fraud.masking import configured_secrets, mask_passwords

    try:
        settings = load_settings()
    except ConfigError:  # the line may say why: mask what can still be read
        settings = Settings(deployment_secrets=deployment_secrets())
    return mask_passwords(line, configured_secrets(settings))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors become one masked line on stderr and a non-zero exit status."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except ConfigError as error:
        print(_masked(f"fraud: configuration error: {error}"), file=sys.stderr)
    except sqlalchemy.exc.SQLAlchemyError as error:
        url = load_settings().database_url or ""
        print(_masked(f"fraud: {describe_error(error, url)}"), file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - every failure is one line, never a traceback
        name = type(error).__name__
        message = str(error).splitlines()[0] if str(error) else ""
        print(_masked(f"fraud: {name}: {message}"), file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
