"""Evaluation: HDR metrics, the inverse tone-mapping baselines, held-out evaluation and the benchmark."""
