"""Pure domain core: no AWS, no HTTP; deterministic given its inputs (the clock is passed in)."""
