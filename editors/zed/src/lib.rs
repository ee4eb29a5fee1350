//! qwenpair for Zed: starts `qwenpair serve` (found on the worktree's PATH, or the path in
//! `lsp.qwenpair.binary.path`) and passes `lsp.qwenpair.initialization_options` from the
//! user's settings to it. Everything else is plain LSP between Zed and the server.
use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

struct Qwenpair;

impl zed::Extension for Qwenpair {
    fn new() -> Self {
        Qwenpair
    }

    fn language_server_command(&mut self, _id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree("qwenpair", worktree).ok().and_then(|s| s.binary);
        let command = binary
            .as_ref()
            .and_then(|b| b.path.clone())
            .or_else(|| worktree.which("qwenpair"))
            .ok_or("qwenpair is not on PATH: install it, or set lsp.qwenpair.binary.path")?;
        let args = binary.and_then(|b| b.arguments).unwrap_or_else(|| vec!["serve".into()]);
        Ok(zed::Command { command, args, env: worktree.shell_env() })
    }

    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree("qwenpair", worktree).ok().and_then(|s| s.initialization_options))
    }
}

zed::register_extension!(Qwenpair);
