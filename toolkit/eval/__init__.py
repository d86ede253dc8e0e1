"""Evaluation: metrics (``toolkit.eval.metrics``), cost measurement (``toolkit.eval.cost``), and the harness
that runs any method on a benchmark and reports the scores."""
