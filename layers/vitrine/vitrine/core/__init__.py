"""Pure domain core: no AWS, no HTTP. Everything here is deterministic given its inputs (the clock is passed in)."""
