"""A tiny sample project: the README's main-job command completes inside it."""
