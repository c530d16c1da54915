"""Training and evaluation of the registered networks."""
