"""The Python that drives Triton: the client, the Embedder and ModelServer on it, the model repository,
client-side tokenisation, and the TorchScript export (torch: gpu pool and scripts only). What Triton
itself reads (the python-backend model file) lives in the top-level triton/ folder."""
