"""Simulation: HDR scenes and the camera that photographs them into LDR, shared by training and evaluation."""
