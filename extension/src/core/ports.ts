// iris/ports answer -> Show Ports QuickPick items and their actions. No `vscode` import.
import { hostPort, managementPortalUrl } from './commands';
import type { ObjectScriptLine } from './objectscriptStatus';
import type { PortEntry, PublishedPort, Status } from './protocol';

export interface PortItem {
  label: string;
  description: string;
  detail: string;
  assignment: PortEntry;
}

function baseName(p: string): string {
  const parts = p.replace(/[\\/]+$/, '').split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** The live state to show for an entry: the helper's state, else the container's, else the registry's. */
export function liveState(a: PortEntry): string {
  return a.state || a.containerState || a.status || 'unknown';
}

const runningStates = new Set(['ready', 'unhealthy', 'running', 'starting']);

/** One QuickPick row per registry entry; projects open in this window first, then by port. */
export function portItems(assignments: readonly PortEntry[], openProjects: readonly string[]): PortItem[] {
  const open = new Set(openProjects);
  return [...assignments]
    .sort((a, b) => Number(open.has(b.project)) - Number(open.has(a.project)) || a.superserverPort - b.superserverPort)
    .map((a) => {
      const state = liveState(a);
      const icon = runningStates.has(state) ? '$(database)' : '$(circle-outline)';
      return {
        label: `${icon} ${baseName(a.project)}`,
        description: `:${a.superserverPort} · web :${a.webPort}${furtherPorts(a)} · ${state}${open.has(a.project) ? ' · this window' : ''}`,
        detail: `${a.project}${a.container ? ` · ${a.container}` : ''} · ${a.type}${a.lastUsedAt ? ` · last used ${a.lastUsedAt}` : ''}`,
        assignment: a,
      };
    });
}

/**
 * A project's published ports beyond the IRIS pair (a compose project's other ports and services),
 * as " · iris/53773 :12000 · web/80 :12001"; "" for none.
 */
function furtherPorts(a: PortEntry): string {
  // the helper lists the IRIS pair first (workspace.statusPorts)
  const ports = [...(a.ports ?? [])];
  while (ports.length > 0 && ports.length > (a.ports ?? []).length - 2 && ports[0].protocol === 'tcp' &&
    (ports[0].containerPort === 1972 || ports[0].containerPort === 52773)) ports.shift();
  return ports.filter((p) => p.hostPort > 0)
    .map((p) => ` · ${p.service ? `${p.service}/` : ''}${p.containerPort}${p.protocol === 'udp' ? '/udp' : ''} :${p.hostPort}`).join('');
}

export type PortAction = 'copyPort' | 'copyWebPort' | 'copyConnectionString' | 'openPortal' | 'release' | 'copyPublished' | 'retryObjectScript';

export interface PortActionItem {
  label: string;
  description?: string;
  action: PortAction;
  /** copyPublished: the host port to copy */
  hostPort?: number;
}

/**
 * What Show Ports adds for a project open in this window: every published port of its status
 * (a compose project's other services too), and the ObjectScript line with Retry when it is not
 * connected.
 */
export function openProjectItems(ports: readonly PublishedPort[] | undefined, objectScript: ObjectScriptLine | undefined): PortActionItem[] {
  const items: PortActionItem[] = [];
  if (objectScript && (objectScript.connected || objectScript.retry)) {
    items.push(objectScript.connected
      ? { label: `$(check) ${objectScript.text}`, description: 'check again', action: 'retryObjectScript' }
      : { label: `$(circle-slash) ${objectScript.text}`, description: 'Retry', action: 'retryObjectScript' });
  }
  for (const p of ports ?? []) {
    if (!p.hostPort) continue;
    items.push({
      label: `$(plug) ${p.service || 'iris'} ${p.containerPort}/${p.protocol || 'tcp'} → ${p.hostIP ? hostPort(p.hostIP, p.hostPort) : p.hostPort}`,
      description: `copy ${p.hostPort}${p.pinnedHostPort && p.pinnedHostPort !== p.hostPort ? ` (compose file: ${p.pinnedHostPort})` : ''}`,
      action: 'copyPublished',
      hostPort: p.hostPort,
    });
  }
  return items;
}

/** How to reach a project's IRIS: the host, namespace and user of its status. */
export type ConnInfo = Pick<Status, 'host' | 'namespace' | 'username'>;

/**
 * For an entry whose project is not open in this window there is no status (the registry does not
 * know the project's bind address or namespace): the helper's defaults.
 */
export const registryOnlyConn: ConnInfo = { host: 'localhost', namespace: 'USER', username: '_SYSTEM' };

/** What can be done with a chosen entry; releasing works only for projects open in this window. */
export function portActions(a: PortEntry, openHere: boolean, conn: ConnInfo): PortActionItem[] {
  const items: PortActionItem[] = [
    { label: '$(copy) Copy superserver port', description: String(a.superserverPort), action: 'copyPort' },
    { label: '$(copy) Copy web port', description: String(a.webPort), action: 'copyWebPort' },
    { label: '$(copy) Copy connection string', description: connectionString(a, conn), action: 'copyConnectionString' },
    { label: '$(globe) Open Management Portal', description: managementPortalUrl(conn.host, a.webPort), action: 'openPortal' },
  ];
  if (openHere) items.push({ label: '$(trash) Release port', description: 'free the ports; removes the container', action: 'release' });
  return items;
}

/** What choosing an action does: put text on the clipboard, open a URL, or release the project's ports. */
export type PortEffect = { kind: 'copy'; text: string } | { kind: 'open'; url: string } | { kind: 'release' } | { kind: 'retryObjectScript' };

export function portActionEffect(action: PortAction, a: PortEntry, conn: ConnInfo, item?: Pick<PortActionItem, 'hostPort'>): PortEffect {
  switch (action) {
    case 'copyPublished':
      return { kind: 'copy', text: String(item?.hostPort ?? '') };
    case 'retryObjectScript':
      return { kind: 'retryObjectScript' };
    case 'copyPort':
      return { kind: 'copy', text: String(a.superserverPort) };
    case 'copyWebPort':
      return { kind: 'copy', text: String(a.webPort) };
    case 'copyConnectionString':
      return { kind: 'copy', text: connectionString(a, conn) };
    case 'openPortal':
      return { kind: 'open', url: managementPortalUrl(conn.host, a.webPort) };
    case 'release':
      return { kind: 'release' };
  }
}

/** A DB-API/SQLAlchemy style connection string, without a password: iris://_SYSTEM@localhost:1972/USER. */
export function connectionString(a: Pick<PortEntry, 'superserverPort'>, conn: ConnInfo): string {
  return `iris://${encodeURIComponent(conn.username)}@${hostPort(conn.host, a.superserverPort)}/${encodeURIComponent(conn.namespace)}`;
}
