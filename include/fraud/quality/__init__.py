"""The data-quality gate: Great Expectations suites over each night's raw rows, quarantine, ledger."""
