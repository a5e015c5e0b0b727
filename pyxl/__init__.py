"""pyxl: Xen's xl toolstack against a simulated Xen host."""

__version__ = "0.1.0"
