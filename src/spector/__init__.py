"""Spector: open-source intelligence and case platform for darknet-market investigations."""

__version__ = "0.1.0"

__all__ = ["__version__"]
