"""Rules two stages share: how feedback events weigh (improvement and fine-tuning), how a session
moves vectors, and the replay of applied sessions into another collection (improvement and reindex)."""
