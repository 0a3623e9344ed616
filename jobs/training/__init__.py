"""Fine-tuning on the gpu pool: the sentence-transformers trainer, the Optuna study, IR evaluation.

Imported only by the gpu worker (jobs/bootstrap.build_training): torch lives here, not in the web process.
"""
