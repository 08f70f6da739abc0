// One folder's objectscript.conn, kept: statuses from the helper, changes of the conn by others
// (the ObjectScript extension's `"active": false`, the user), Retry and "use this project's port",
// through the rules of decideConn (which form) and ConnNudge (when), one update at a time. What
// needs VS Code (the settings file, workspaceState, the user settings' Server Manager definitions,
// notices) is behind KeeperHost, which connWriter.ts implements and the unit tests fake.
// No `vscode` import.
import { ConnNudge } from './connNudge';
import { ConnUpdates } from './connUpdates';
import { decideConn, foreignConnMessage, irisWebContainerPort, pinnedMovedMessage, projectPortConn, type ObjectScriptConn, type WrittenConn } from './objectscriptConn';
import type { Status } from './protocol';

export interface KeeperHost {
  folderName: string;
  /** irisHelper.updateObjectScriptConnection */
  enabled(): boolean;
  /** The folder's objectscript.conn (throws what settingsFile throws for a refused file). */
  readConn(): Promise<ObjectScriptConn | undefined>;
  writeConn(conn: ObjectScriptConn): Promise<void>;
  /** What was written last for the folder (workspaceState). */
  getWritten(): WrittenConn | undefined;
  setWritten(w: WrittenConn): Promise<void>;
  isOurServer(name: string): boolean;
  /** The definition to name when the conn has no password (core/serverRecord serverName), or undefined. */
  credentialServer(s: Status): string | undefined;
  /** Creates or updates iris-helper's definition; false when the user settings refused it. */
  ensureServer(name: string, s: Status): Promise<boolean>;
  /** The web server of a definition in the settings, or undefined when there is none of that name. */
  serverWebServer(name: string): { host?: string; port?: number } | undefined;
  /** A notice shown once per folder and workspace (key: foreign|pinned). */
  noticeOnce(key: 'foreign' | 'pinned', text: string): Promise<void>;
  /** A refused settings file (a link out of the folder...): true when handled (told once). */
  refused(err: unknown, s: Status): boolean;
  log(text: string): void;
  event(name: string, data: Record<string, unknown>): void;
  now(): number;
}

export type Why = 'transition' | 'undo' | 'retry' | 'setting';

export class ConnKeeper {
  readonly nudge = new ConnNudge();
  private readonly updates: ConnUpdates;
  private status?: Status;
  /** JSON of the conn last written here: its own change event is not someone else's edit */
  private lastWritten?: string;
  /** the conn names a server that is not iris-helper's and is not on this project's port */
  serverWarning?: { server: string; host?: string; port?: number };

  constructor(private readonly host: KeeperHost, onError: (err: unknown) => void, private readonly after: () => void = () => undefined) {
    this.updates = new ConnUpdates(onError);
  }

  /** Resolves when every queued update has ended. */
  idle(): Promise<void> {
    return this.updates.idle();
  }

  /** A status from the helper: at a transition to ready, the conn gets its one nudge. */
  update(status: Status): void {
    const s = servingStatus(status);
    this.status = s;
    if (!this.nudge.onStatus(s, this.host.now())) return;
    this.host.event('conn-ready-transition', { port: s.webPort, startedAt: s.startedAt });
    this.updates.queue(() => this.apply(s, 'transition'));
  }

  /** irisHelper.updateObjectScriptConnection changed: look again. */
  settingChanged(): void {
    const s = this.status;
    if (s && s.state === 'ready') this.updates.queue(() => this.apply(s, 'setting'));
  }

  /** objectscript.conn (or intersystems.servers) changed in the settings (not by this keeper). */
  connChanged(): void {
    this.updates.queue(async () => {
      const current = await this.readQuietly();
      const s = this.status;
      if (current === undefined || JSON.stringify(current) === this.lastWritten) return;
      if (current.active === false && s) {
        const what = this.nudge.onConnOff(this.host.now());
        this.host.event('conn-off', { action: what });
        if (what === 'undo') {
          this.host.log('objectscript.conn was turned off within 60 s after IRIS was ready: turning it on once');
          await this.apply(s, 'undo');
          return;
        }
      } else if (current.active === true) {
        this.nudge.onConnOn();
      }
      if (s) this.checkServer(current, s);
      this.after();
    });
  }

  /** A user's server named by the conn: warn when its web port is not the project's (the definition may have changed). */
  private checkServer(current: ObjectScriptConn, s: Status): void {
    const server = typeof current.server === 'string' && current.server !== '' && !this.host.isOurServer(current.server) ? current.server : undefined;
    if (!server || !s.webPort) {
      this.serverWarning = undefined;
      return;
    }
    const web = this.host.serverWebServer(server);
    this.serverWarning = web?.port !== s.webPort ? { server, host: web?.host, port: web?.port } : undefined;
  }

  /** Retry: make the ObjectScript extension check again (it checks on every conn change). False when IRIS is not ready. */
  async retry(): Promise<boolean> {
    const s = this.status;
    if (!s || s.state !== 'ready') return false;
    this.nudge.onConnOn();
    this.updates.queue(() => this.apply(s, 'retry'));
    await this.updates.idle();
    return true;
  }

  /** The conn names a server on another port: this project's host/port in this folder's conn instead (the user asked). */
  async useProjectPort(): Promise<void> {
    const s = this.status;
    if (!s || !s.webPort) return;
    this.updates.queue(async () => {
      try {
        const conn = projectPortConn(await this.host.readConn(), s);
        const cred = typeof conn.password === 'string' ? undefined : this.host.credentialServer(s);
        if (cred) conn.server = cred;
        await this.write(s, conn, { host: s.host, port: s.webPort }, 'hostPort');
        this.serverWarning = undefined;
      } catch (err) {
        if (!this.host.refused(err, s)) throw err;
      } finally {
        this.after();
      }
    });
    await this.updates.idle();
  }

  private async readQuietly(): Promise<ObjectScriptConn | undefined> {
    try {
      return await this.host.readConn();
    } catch {
      return undefined;
    }
  }

  private async apply(s: Status, why: Why): Promise<void> {
    try {
      await this.applyUnchecked(s, why);
    } catch (err) {
      if (!this.host.refused(err, s)) throw err;
    } finally {
      this.after();
    }
  }

  private async applyUnchecked(s: Status, why: Why): Promise<void> {
    if (!this.host.enabled() || !s.webPort || s.state !== 'ready') return;
    const current = await this.host.readConn();
    const decision = decideConn({
      enabled: true, status: s, current, written: this.host.getWritten(),
      isOurServer: (n) => this.host.isOurServer(n), credentialServer: this.host.credentialServer(s),
    });
    this.serverWarning = undefined;
    switch (decision.action) {
      case 'write':
        // the transition's one rewrite (an undo took it in onConnOff; Retry and the setting are the user's)
        if (why === 'transition' && !this.nudge.takeRewrite()) return;
        if (decision.notice) await this.host.noticeOnce('pinned', pinnedMovedMessage(this.host.folderName, decision.notice.from, s.webPort));
        await this.write(s, decision.conn, decision.written, decision.form);
        return;
      case 'unchanged':
        if (current?.server && this.host.isOurServer(current.server)) await this.host.ensureServer(current.server, s);
        if (why === 'retry' && current) await this.bounce(current);
        return;
      case 'server': {
        if (current) this.checkServer(current, s);
        this.host.log(`objectscript.conn uses the server "${decision.server}" (left as it is; its web port ${this.host.serverWebServer(decision.server)?.port ?? 'unknown'}, this project's ${s.webPort})`);
        if (why === 'retry' && current) await this.bounce(current);
        return;
      }
      case 'foreign':
        this.host.log(`objectscript.conn left alone: ${decision.reason}`);
        this.host.event('conn-foreign', { reason: decision.reason });
        await this.host.noticeOnce('foreign', foreignConnMessage(this.host.folderName, decision.reason, s.webPort));
        return;
      case 'skip':
        return;
    }
  }

  /** The conn is already right: turned off and on again, so that the ObjectScript extension checks again. */
  private async bounce(current: ObjectScriptConn): Promise<void> {
    await this.writeRaw({ ...current, active: false });
    await this.writeRaw({ ...current, active: true });
    this.host.log('objectscript.conn rewritten for the ObjectScript extension to check again');
    this.host.event('conn-retry', {});
  }

  private async write(s: Status, conn: ObjectScriptConn, written: WrittenConn, form: string): Promise<void> {
    const server = conn.server;
    if (typeof server === 'string' && (this.host.isOurServer(server) || this.host.credentialServer(s) === server)) {
      // a conn names iris-helper's definition only once the user settings hold it
      if (!(await this.host.ensureServer(server, s)) && this.host.serverWebServer(server) === undefined) delete conn.server;
    }
    await this.writeRaw(conn);
    await this.host.setWritten(written);
    this.host.log(`objectscript.conn now points at ${s.host}:${s.webPort} (${form}${conn.server ? `, server "${conn.server}"` : ''})`);
    this.host.event('conn-written', { port: s.webPort, form, server: conn.server ?? '' });
  }

  private async writeRaw(conn: ObjectScriptConn): Promise<void> {
    this.lastWritten = JSON.stringify(conn);
    await this.host.writeConn(conn);
  }
}

/**
 * The status with webPort = the port IRIS answers on now: while a running container still publishes
 * another web port than the project's assignment (restartNeeded: a port move waiting for a
 * restart), the conn and the definition must keep pointing at the container's port (status.ports),
 * not the assigned one, or the ObjectScript extension checks a port nobody serves and turns the
 * connection off; the restart's ready status then moves them (issue 13 §2, a port move).
 */
export function servingStatus(s: Status): Status {
  if (!s.restartNeeded) return s;
  const web = (s.ports ?? []).find((p) => p.service === (s.irisService ?? '') && p.containerPort === irisWebContainerPort && p.protocol === 'tcp' && p.state === 'running');
  return web && web.hostPort > 0 && web.hostPort !== s.webPort ? { ...s, webPort: web.hostPort } : s;
}
