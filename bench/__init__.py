"""Benchmarks of the setup scripts on simulated clusters; run ``python bench/run.py``."""
