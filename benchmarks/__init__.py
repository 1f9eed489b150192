"""Load, scale and soak measurements of the mock, with Prism as the yardstick.

Each module with a ``main`` is run with ``python -m benchmarks.<name>``; see README.md.
"""
