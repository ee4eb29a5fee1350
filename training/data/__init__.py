"""The pretraining data pipeline (``qwenpair train data``), one stage per module.

sources (collect through repo_index's path rules) -> languages (tags) -> filters (rules)
-> classifier (fastText-style scores) -> dedup (exact, MinHash LSH) -> decontam (10-gram
overlap with benchmarks) -> mix (code:text:math ratio) -> fim / repo_samples (the training
text, built with model.prompt) -> pack (tokens, sequence length) -> shards (numpy memmaps and
a manifest). ``pipeline`` wires them into one streaming run.
"""
