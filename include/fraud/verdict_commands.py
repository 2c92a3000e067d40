"""The ``fraud`` subcommands of investigators' verdicts: importing an export, and the simulated
investigators' mornings; :mod:`fraud.cli` parses the arguments and calls these."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from fraud.commands import owner_warehouse, print_payload
from fraud.config import load_settings


def review_night(args: argparse.Namespace) -> int:
    """Play the investigators the morning after one night: verdicts on its alerted cards."""
    from fraud.simulation.investigators import InvestigatorParams, review_morning

    params = InvestigatorParams(
        capacity=load_settings().review_capacity if args.capacity is None else args.capacity,
        delay_hours=args.review_delay_hours,
        unreachable_fraud=args.unreachable_fraud,
        unreachable_genuine=args.unreachable_genuine,
        error_rate=args.review_error_rate,
        seed=args.seed,
    )
    # Simulated time is the owner's to write: recorded_at is the simulated morning.
    engine = owner_warehouse()
    try:
        with engine.begin() as connection:
            outcome = review_morning(connection, args.date, params)
    finally:
        engine.dispose()
    print_payload(asdict(outcome), args.json)
    return 0


def outcomes_import(args: argparse.Namespace) -> int:
    """Import one export of investigators' verdicts; every bad line named, nothing lost."""
    from fraud.cases.outcomes import VerdictImportError, import_verdicts
    from fraud.db import create_warehouse_engine

    settings = load_settings()
    url = settings.investigator_database_url or settings.require_owner_database_url()
    engine = create_warehouse_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            outcome = import_verdicts(connection, Path(args.file), skip_bad=args.skip_bad)
    except VerdictImportError as error:
        print(f"fraud: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        print_payload(asdict(outcome), True)
    else:
        print(
            f"{outcome.file}: read {outcome.read} lines: imported {outcome.imported},"
            f" skipped {outcome.skipped_identical} already stored,"
            f" rejected {outcome.rejected}"
            + (f" (written to {outcome.rejects_file})" if outcome.rejects_file else "")
        )
        for line in outcome.rejections:
            print(line, file=sys.stderr)
    return 0
