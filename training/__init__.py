"""Training: the data pipeline, pretraining/SFT/DPO at small scale, LoRA on private
repositories, export and evaluation. Imports model/ and repo_index/; nothing imports it
but the CLI."""
