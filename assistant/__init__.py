"""The engine: turns a cursor into a completion (context -> prompt -> model -> filters),
plus chat and edit. Builds on model/ and repo_index/; knows nothing of LSP."""
