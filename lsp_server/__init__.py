"""The pygls language server: translates LSP to and from the assistant, nothing else.
Imports assistant/, model/ and repo_index/; never training/ or the CLI.

Run it with ``qwenpair serve`` (stdio) or ``qwenpair serve --tcp HOST:PORT``; the protocol
contract (commands, notifications, code actions, errors) is docs/lsp.md, the settings are
docs/configuration.md. Modules, from the wire inwards::

    transport.py     stdio/TCP framing that resynchronises after a wrong Content-Length;
                     TCP: loopback by default, a token to present, one client at a time
                     (docs/security.md)
    protocol.py      JSON-RPC corrections: -32002 before initialize, -32600 after shutdown,
                     -32602 for undecodable params, UTF-8 preference, the exit code
    handlers.py      the LSP handlers (thin adapters) and ``serve()``
    server.py        ``QwenServer``: the shared state, completion and chat plumbing, status
    background.py    model loading/swapping and root indexing, off the event loop
    documents.py     open documents: incremental sync with version checks
    positions.py     UTF-16/UTF-8/UTF-32 positions <-> code-point columns
    roots.py         one assistant session per workspace folder; debounced index overlay
    models.py        model resolution ("auto"), loading, one model shared under a lock
    settings.py      typed settings: defaults <- config.toml <- initializationOptions
    commands.py      executeCommand argument parsing (qwenpair.*)
    outcomes.py      suggestion ids on items, qwenpair.accepted and qwenpair/suggestionOutcome,
                     document changes to the outcome tracker (docs/stats.md)
    code_actions.py  the qwenpair code actions on a selection
    progress.py      ordered work-done progress from any thread
    logs.py          log file and window/logMessage
"""
