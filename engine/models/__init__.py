"""Models implemented natively in PyTorch (DESIGN.md §3)."""
