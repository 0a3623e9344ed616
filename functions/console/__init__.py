"""The console's read models: what the web console shows of an index, built from the stores' ports."""
