"""Level-based reconciliation: `plan()` compares desired and observed state (pure), `apply()`
carries a plan out through a DataPlane driver in dependency order."""
