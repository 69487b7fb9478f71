"""The network: FHDR itself, the fused oneDNN engine that runs its weights on the CPU, and checkpoints."""
