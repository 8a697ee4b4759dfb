"""Backprop Lab's training engine: pure NumPy, no server imports."""
