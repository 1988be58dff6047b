"""How fast the kit trains and predicts: the ``bench`` (compute bound vs end to end),
its naive baseline loop, and the timing tools both use."""
