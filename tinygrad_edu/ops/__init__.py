"""The ops, one family per module; :mod:`tinygrad_edu.functional` gathers them."""
