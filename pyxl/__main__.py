"""`python -m pyxl` is the same as the `pyxl` command."""

from pyxl.launch import pyxl

pyxl()
