#!/usr/bin/env bash
# Installs code-server 4.99.4 (VS Code 1.99, the last line that runs on Node 20) and
# playwright-core into editors/vscode/e2e/node_modules, offline from GitHub.
#
# code-server's own postinstall cannot run here: @vscode/ripgrep downloads its binary from
# GitHub releases, and prebuild-install tries GitHub before building. So this does what
# code-server's postinstall.sh does, by hand: install VS Code's production dependencies
# without scripts, put Debian's ripgrep where @vscode/ripgrep expects its binary, build the
# native modules from source with node-gyp, and make the links postinstall.sh makes.
# Needs: Debian packages chromium ripgrep build-essential pkg-config libkrb5-dev
# libxkbfile-dev libsecret-1-dev (.ci/setup installs them). Idempotent; about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")"
export npm_config_yes=true  # node-pty's post-install runs `npx node-gyp` (from the npm registry)
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
npm rebuild argon2 --loglevel=error

cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild kerberos @vscode/spdlog native-watchdog node-pty @vscode/deviceid --loglevel=error
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
cd extensions
npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
node ./postinstall.mjs >/dev/null
