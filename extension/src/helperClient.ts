// One folder's connection to its helper (`iris-helper serve --stdio`), built on
// vscode-languageclient: stdio transport, restart on crash (with the library's limit), the trace
// channel irisHelper.trace.server, $/progress and window/showMessage all come from the library.
// folders.ts loads this bundle (dist/helperClient.js) on first use, keeping activation cheap.
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import * as vscode from 'vscode';
import { LanguageClient, ShowMessageNotification, State, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { parseHelperLogLine } from './core/helperLog';
import type { ClientState } from './core/statusView';
import { Methods, type HelperInitializeResult, type InitializationOptions, type Status } from './core/protocol';

export interface FolderHelperOptions {
  folder: vscode.WorkspaceFolder;
  helperPath: string;
  initializationOptions: InitializationOptions;
  outputChannel: vscode.LogOutputChannel;
  onStatus: (s: Status) => void;
  onClientState: (s: ClientState) => void;
  /** window/showMessage (replaces the library's handler, which shows every message). */
  onShowMessage: (type: number, message: string) => void;
}

/** A running helper for one workspace folder. */
export class FolderHelper implements vscode.Disposable {
  private readonly client: LanguageClient;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(opts: FolderHelperOptions) {
    const serverOptions: ServerOptions = {
      command: opts.helperPath,
      args: ['serve', '--stdio'],
      options: { cwd: opts.folder.uri.fsPath, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      workspaceFolder: opts.folder,
      outputChannel: opts.outputChannel,
      initializationOptions: opts.initializationOptions,
      // stderr is the helper's log: show each line at its own level (the default marks all [error])
      stdioOptions: {
        stdout: (input, channel) => forEachLine(input, (line) => channel.info(line)),
        stderr: (input, channel) => forEachLine(input, (line) => {
          const { level, text } = parseHelperLogLine(line);
          channel[level](text);
        }),
      },
      // the helper shows its own progress and messages; nothing in documents to synchronize
    };
    // id "irisHelper" makes the library read the trace level from irisHelper.trace.server
    this.client = new LanguageClient('irisHelper', `IRIS Helper (${opts.folder.name})`, serverOptions, clientOptions);
    this.subscriptions.push(
      this.client.onNotification(Methods.statusNotification, (s: Status) => opts.onStatus(s)),
      // registered before start: it takes the place of the library's own handler once initialize
      // is answered (the helper sends its messages after initialized)
      this.client.onNotification(ShowMessageNotification.type, (m) => opts.onShowMessage(m.type, m.message)),
      this.client.onDidChangeState((e) => {
        if (e.newState === State.Running) {
          opts.onClientState('running');
          // after a crash the library restarts the helper; its new first status is in the result
          const first = this.initializeResult?.status;
          if (first) opts.onStatus(first);
        } else if (e.newState === State.Starting) {
          opts.onClientState('starting');
        } else {
          opts.onClientState('stopped');
        }
      }),
    );
  }

  /** Starts the helper and returns its initialize result (serverInfo and the first status). */
  async start(): Promise<Partial<HelperInitializeResult>> {
    await this.client.start();
    return this.initializeResult ?? {};
  }

  get initializeResult(): Partial<HelperInitializeResult> | undefined {
    return this.client.initializeResult as Partial<HelperInitializeResult> | undefined;
  }

  get running(): boolean {
    return this.client.state === State.Running;
  }

  request<R>(method: string, params: unknown = {}): Promise<R> {
    return this.client.sendRequest<R>(method, params);
  }

  /** Stops the helper (shutdown + exit); the helper stops IRIS only when stopOnExit is on. */
  async stop(): Promise<void> {
    for (const d of this.subscriptions.splice(0)) d.dispose();
    if (this.client.state !== State.Stopped) {
      try {
        await this.client.stop(5000);
      } catch {
        // a helper that does not answer shutdown is killed by the library
      }
    }
    await this.client.dispose().catch(() => undefined);
  }

  dispose(): void {
    void this.stop();
  }
}

export function createFolderHelper(opts: FolderHelperOptions): FolderHelper {
  return new FolderHelper(opts);
}

function forEachLine(input: Readable, onLine: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', onLine);
}
