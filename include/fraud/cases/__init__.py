"""Investigators' work: the verdicts they record, imported or typed in, and labels as of a moment."""
