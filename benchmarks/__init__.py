"""Benchmarks of the pipeline, apart from the ``fraud`` package that the workers install.

Run from a checkout: ``fraud benchmark scoring`` and ``fraud benchmark night`` import this
package from the repository root; the scripts run as ``python -m benchmarks.<name>``.
Each benchmark uses the product's public functions only, in a scratch database it drops.
"""
