"""Combining finished runs: numpy combiners, stacking, member scoring rules and the
workflow that reads run folders and writes an ensemble's outputs."""
