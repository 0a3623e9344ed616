"""The simulation library: a sample catalogue, simulated users' clicks, BEIR loading and IR metrics."""
