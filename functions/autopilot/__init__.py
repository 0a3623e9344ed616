"""The autopilot stage: the loop runs by itself, one cycle per index at a time (docs/autopilot.md)."""
