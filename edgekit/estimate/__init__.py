"""Latency before the phone: a per-operator-kind latency model fitted on published tables and on
runs measured here, ``estimate_latency`` for any model on any profile with data, and
``select_models`` for the best model within a latency (and storage) budget."""

from edgekit.estimate.estimator import LatencyEstimate, estimate_latency, model_features

__all__ = ["LatencyEstimate", "estimate_latency", "model_features"]
