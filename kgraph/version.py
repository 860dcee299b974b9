"""kgraph's version, in a module of its own so that kgraph modules can read it without
importing the package (whose __init__ imports program.py, which imports them)."""
__version__ = "0.1.0"
