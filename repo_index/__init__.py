"""Workspace index: scanning, ignore and secret rules, tree-sitter symbols and chunks,
retrieval, persistence and file watching. Imports none of qwenpair's other packages."""
