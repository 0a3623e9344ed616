"""Triton export and model repository: TorchScript export (torch, gpu pool and scripts only), the
repository layout and manifest, the generic python-backend model, and client-side tokenisation."""
