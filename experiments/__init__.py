"""Research sweeps on the product's own code; `make bench` does not run them (see README.md here)."""
