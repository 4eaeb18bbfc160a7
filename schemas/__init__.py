"""JSON Schemas of every record and event (data files; loaded by detectors.schemas)."""
