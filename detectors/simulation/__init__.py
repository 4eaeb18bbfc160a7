# The pattern scenarios register themselves into the library on import.
from restrictwatch.detectors.simulation import patterns as _patterns  # noqa: F401
