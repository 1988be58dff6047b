"""(in development)"""


def register(verbs):
    """Add this module's CLI verb to the `gluonfashion` parser."""
