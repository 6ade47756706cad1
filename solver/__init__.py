"""Pure optimisation: validated pandas frames in, solution frames out.

Imports nothing from ``procurement`` or ``catalogues``.
"""
