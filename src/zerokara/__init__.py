"""zerokara: deep learning from zero, in NumPy, every backward written by hand and proven."""

__version__ = "0.1.0"
