"""Coverage: which regions have (active) KIMs, exact to the desa."""
