"""Not a Python package: this folder is embedloop's Triton model repository and server config.

Run from the repository root, Python would import this folder as a namespace package called
`triton`, and torch, probing for the Triton *compiler* package of that name, would crash on it
(`module 'triton' has no attribute 'language'`). Raising ImportError makes the probe answer
"not installed", which is the truth on this machine.
"""

raise ImportError("embedloop's triton/ folder is a model repository, not the triton package")
