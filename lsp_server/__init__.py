"""The pygls language server: translates LSP to and from the assistant, nothing else."""
