"""The functional core: pure decisions over frozen values. No I/O, no clock reads, no logging."""
