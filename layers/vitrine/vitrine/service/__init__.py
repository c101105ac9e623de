"""Application services: wire settings and adapters to the core, one module per function.

Handlers in ``functions/<name>/app.py`` stay a few lines: parse → call a service → map the result.
"""
