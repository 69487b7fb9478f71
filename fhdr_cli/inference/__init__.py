"""Inference: the converter pipeline behind the Python API, exact tiling, devices and threads, folder batches."""
