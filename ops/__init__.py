"""Operator scripts for a deployed stack (outside the Lambda layer: never loaded by a function)."""
