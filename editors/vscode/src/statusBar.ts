/**
 * The status-bar item: the model, indexing progress and the last completion latency, from
 * the server's `qwenpair.status`, refreshed every few seconds while the server runs.
 * Clicking it runs "qwenpair: Show Status".
 */
import * as vscode from 'vscode';
import type { QwenpairClient } from './client';
import { statusText, type ServerStatus } from './statusText';

const REFRESH_MS = 3000;

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly timer: NodeJS.Timeout;
  last?: ServerStatus;

  constructor(private readonly client: () => QwenpairClient | undefined) {
    this.item.command = 'qwenpair.showStatus';
    this.item.text = '$(sync~spin) qwenpair';
    this.item.tooltip = 'qwenpair: starting';
    this.item.show();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  async refresh(): Promise<void> {
    const client = this.client();
    if (!client?.running) {
      this.item.text = '$(circle-slash) qwenpair';
      this.item.tooltip = 'qwenpair: the server is not running';
      return;
    }
    try {
      this.last = await client.status();
      const { text, tooltip } = statusText(this.last);
      this.item.text = text;
      this.item.tooltip = tooltip;
    } catch (err) {
      this.item.text = '$(warning) qwenpair';
      this.item.tooltip = `qwenpair: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.item.dispose();
  }
}
