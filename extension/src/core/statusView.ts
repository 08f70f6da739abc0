// Status object -> what the folder's status-bar item shows (text, background, tooltip, click).
// It renders the helper's status and nothing else. No `vscode` import: folders.ts maps the
// result onto a StatusBarItem.
import { Commands, type CommandId, managementPortalUrl } from './commands';
import type { ObjectScriptLine } from './objectscriptStatus';
import type { Status } from './protocol';

/** How the connection to the folder's helper is doing (vscode-languageclient State, simplified). */
export type ClientState = 'starting' | 'running' | 'stopped';

export interface StatusViewInput {
  /** The folder's display name. */
  folderName: string;
  /** The folder's URI as a string; passed to the commands so they act on this folder. */
  folderUri: string;
  /** True when more than one folder has an item: the text then names the folder. */
  multiRoot: boolean;
  clientState: ClientState;
  /** The latest status from the helper; undefined before the first one. */
  status?: Status;
  /** Why the helper could not be started (missing binary...), when it could not. */
  clientError?: string;
  /** The ObjectScript extension's connection (core/objectscriptStatus objectScriptLine), while IRIS runs. */
  objectScript?: ObjectScriptLine;
  /** objectscript.conn names a Server Manager definition that is not on this project's web port. */
  serverWarning?: { server: string; host?: string; port?: number };
}

export type Background = 'warning' | 'error' | undefined;

export interface StatusView {
  /** False: hide the item (no status yet, or a folder that is no IRIS project and has no container). */
  visible: boolean;
  text: string;
  /** Markdown; command links carry the folder URI. */
  tooltip: string;
  background: Background;
  /** What a click does; undefined = nothing (a start or stop is under way). */
  command?: { id: CommandId; args: string[] };
  /** Screen-reader text. */
  accessibilityLabel: string;
}

/** Commands the tooltip links to; the MarkdownString must trust exactly these. */
export const tooltipCommands: CommandId[] = [
  Commands.start,
  Commands.stop,
  Commands.restart,
  Commands.rebuild,
  Commands.showPorts,
  Commands.openManagementPortal,
  Commands.showLog,
  Commands.retryObjectScript,
  Commands.useProjectPort,
];

const stateWords: Record<string, string> = {
  'not-created': 'not created',
  stopped: 'stopped',
  starting: 'starting',
  ready: 'ready',
  unhealthy: 'unhealthy',
  stopping: 'stopping',
  error: 'error',
  'docker-unavailable': 'Docker engine unreachable',
};

/** Escapes Markdown control characters in text that comes from the helper or the file system. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => '\\' + c);
}

function commandLink(title: string, id: CommandId, folderUri: string): string {
  return `[${title}](command:${id}?${encodeURIComponent(JSON.stringify([folderUri]))})`;
}

/** IRIS runs (answers or not): ready or unhealthy. */
export function isRunning(s: Status): boolean {
  return s.state === 'ready' || s.state === 'unhealthy';
}

/** The Management Portal of a running IRIS with a web port; undefined otherwise. */
export function portalUrl(s: Status): string | undefined {
  return isRunning(s) && s.webPort ? managementPortalUrl(s.host, s.webPort) : undefined;
}

/** A folder as the folder picker describes it: its status-bar text without the folder name ('' before the first status). */
export function pickerDescription(f: { name: string; uri: string; clientState: ClientState; status?: Status }): string {
  if (!f.status) return '';
  return renderStatus({ folderName: f.name, folderUri: f.uri, multiRoot: false, clientState: f.clientState, status: f.status }).text;
}

/** Renders one folder's status-bar item. */
export function renderStatus(input: StatusViewInput): StatusView {
  const { status: s, folderUri } = input;
  const suffix = input.multiRoot ? ` (${input.folderName})` : '';
  const click = (id: CommandId) => ({ id, args: [folderUri] });

  if (input.clientError !== undefined) {
    return {
      visible: true,
      text: `$(error) IRIS helper failed${suffix}`,
      tooltip: `**IRIS helper for ${escapeMarkdown(input.folderName)} is not running**\n\n${escapeMarkdown(input.clientError)}\n\n` +
        commandLink('Show Helper Log', Commands.showLog, folderUri),
      background: 'error',
      command: click(Commands.showLog),
      accessibilityLabel: `IRIS helper failed for ${input.folderName}`,
    };
  }
  if (s === undefined) {
    return { visible: false, text: '', tooltip: '', background: undefined, accessibilityLabel: '' };
  }
  if (input.clientState === 'stopped') {
    return {
      visible: true,
      text: `$(error) IRIS helper stopped${suffix}`,
      tooltip: `**IRIS helper for ${escapeMarkdown(input.folderName)} stopped**\n\nSee the helper log. ` +
        commandLink('Show Helper Log', Commands.showLog, folderUri),
      background: 'error',
      command: click(Commands.showLog),
      accessibilityLabel: `IRIS helper stopped for ${input.folderName}`,
    };
  }
  // A folder that is no IRIS project (a LaTeX tree full of .cls files) shows nothing until the
  // user starts IRIS there on purpose.
  if (!s.isIrisProject && s.state === 'not-created') {
    return { visible: false, text: '', tooltip: '', background: undefined, accessibilityLabel: '' };
  }

  let text: string;
  let background: Background;
  let command: StatusView['command'];
  let label: string;
  switch (s.state) {
    case 'starting':
      text = s.phase === 'building' ? `$(sync~spin) IRIS building…` : `$(sync~spin) IRIS starting…`;
      label = s.phase === 'building' ? 'IRIS building' : 'IRIS starting';
      break;
    case 'stopping':
      text = `$(sync~spin) IRIS stopping…`;
      label = 'IRIS stopping';
      break;
    case 'ready':
      text = `$(database) IRIS :${s.superserverPort}`;
      label = `IRIS running on superserver port ${s.superserverPort}`;
      command = click(Commands.stop);
      break;
    case 'unhealthy':
      text = `$(warning) IRIS :${s.superserverPort} unhealthy`;
      label = `IRIS unhealthy on superserver port ${s.superserverPort}`;
      background = 'warning';
      command = click(Commands.stop);
      break;
    case 'error':
      text = `$(error) IRIS error`;
      label = 'IRIS error';
      background = 'error';
      command = click(Commands.start);
      break;
    case 'docker-unavailable':
      text = `$(error) IRIS: Docker unreachable`;
      label = 'IRIS: Docker engine unreachable';
      background = 'error';
      command = click(Commands.start);
      break;
    case 'stopped':
    case 'not-created':
    default:
      text = `$(debug-stop) IRIS stopped`;
      label = 'IRIS stopped';
      command = click(Commands.start);
      break;
  }
  if (s.restartNeeded && isRunning(s)) {
    text = `$(debug-restart) IRIS: restart needed`;
    label = 'IRIS: restart needed';
    background = background ?? 'warning';
    command = click(Commands.restart);
  }
  return {
    visible: true,
    text: text + suffix,
    tooltip: renderTooltip(input, s),
    background,
    command,
    accessibilityLabel: `${label}, ${input.folderName}`,
  };
}

/** The published ports as tooltip lines: `service` container/protocol → host:port, the IRIS service first. */
export function portLines(s: Pick<Status, 'ports' | 'irisService'>): string[] {
  const ports = [...(s.ports ?? [])].sort((a, b) =>
    Number(b.service === s.irisService) - Number(a.service === s.irisService) || a.service.localeCompare(b.service) || a.containerPort - b.containerPort);
  return ports.map((p) => {
    const where = p.hostPort ? `${p.hostIP ? escapeMarkdown(p.hostIP) + ':' : ''}**${p.hostPort}**` : 'not published';
    const pinned = p.pinnedHostPort && p.pinnedHostPort !== p.hostPort ? ` (compose file: ${p.pinnedHostPort})` : '';
    const state = p.state && p.state !== 'running' ? ` · ${escapeMarkdown(p.state)}` : '';
    return `\`${escapeMarkdown(p.service || 'iris')}\` ${p.containerPort}/${escapeMarkdown(p.protocol || 'tcp')} → ${where}${pinned}${state}`;
  });
}

function renderTooltip(input: StatusViewInput, s: Status): string {
  const { folderName, folderUri } = input;
  const lines: string[] = [];
  const state = stateWords[s.state] ?? s.state;
  const phase = s.state === 'starting' && s.phase ? ` (${s.phase})` : '';
  lines.push(`**IRIS: ${escapeMarkdown(state + phase)}** — ${escapeMarkdown(folderName)}`);
  lines.push('');
  lines.push(`Project: \`${s.project}\``);
  if (s.superserverPort || s.webPort) {
    const web = s.webPort ? `${s.webPort}` : '—';
    lines.push(`Superserver port: **${s.superserverPort || '—'}** · Web port: **${web}**` +
      (s.bindAddress ? ` on ${escapeMarkdown(s.bindAddress)}` : ''));
  }
  const ports = portLines(s);
  if (ports.length > 0) lines.push('', 'Published ports:', ...ports.map((l) => `- ${l}`), '');
  if (s.kind === 'compose' && s.composeProject) lines.push(`Compose project: \`${s.composeProject}\`${s.irisService ? ` · IRIS service: \`${s.irisService}\`` : ''}`);
  if (s.container) lines.push(`Container: \`${s.container}\``);
  if (s.image) lines.push(`Image: \`${s.image}\``);
  if (s.envFile) lines.push(`.env: \`${s.envFile}\``);
  if (s.state !== 'ready' && s.state !== 'starting' && s.exitCode !== null && s.exitCode !== undefined) {
    lines.push(`Exit code: ${s.exitCode}`);
  }
  if (s.restartNeeded) lines.push('', '$(warning) The container does not use the assigned ports: restart it.');
  if (s.message) lines.push('', escapeMarkdown(s.message));
  if (input.serverWarning && s.webPort) {
    const w = input.serverWarning;
    const at = w.port ? `web port ${w.port}` : 'no web port';
    lines.push('', `$(warning) objectscript.conn uses the server "${escapeMarkdown(w.server)}" (a Server Manager definition, left as it is), whose ${at} is not this project's ${s.webPort}. ` +
      commandLink("Use this project's port in this folder's conn", Commands.useProjectPort, folderUri));
  }
  if (input.objectScript && isRunning(s)) {
    const o = input.objectScript;
    lines.push('', `${o.connected ? '$(check)' : '$(circle-slash)'} ${escapeMarkdown(o.text)}` +
      (o.retry ? ' · ' + commandLink('$(refresh) Retry', Commands.retryObjectScript, folderUri) : ''));
  }
  lines.push('', '---', '');
  const links: string[] = [];
  if (isRunning(s)) {
    links.push(commandLink('$(debug-stop) Stop', Commands.stop, folderUri));
    links.push(commandLink('$(debug-restart) Restart', Commands.restart, folderUri));
    if (s.kind === 'compose' || s.kind === 'dockerfile') links.push(commandLink('$(tools) Rebuild', Commands.rebuild, folderUri));
    if (s.webPort) links.push(commandLink('$(globe) Management Portal', Commands.openManagementPortal, folderUri));
  } else if (s.state !== 'starting' && s.state !== 'stopping') {
    links.push(commandLink('$(debug-start) Start', Commands.start, folderUri));
    if (s.kind === 'compose' || s.kind === 'dockerfile') links.push(commandLink('$(tools) Rebuild', Commands.rebuild, folderUri));
  }
  links.push(commandLink('$(list-unordered) Show Ports', Commands.showPorts, folderUri));
  links.push(commandLink('$(output) Log', Commands.showLog, folderUri));
  lines.push(links.join(' · '));
  const portal = portalUrl(s);
  if (portal) lines.push('', `Portal: ${portal}`);
  // two trailing spaces keep single lines apart in Markdown
  return lines.map((l) => (l === '' || l === '---' || l.startsWith('- ') ? l : l + '  ')).join('\n');
}
