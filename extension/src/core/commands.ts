// Command ids the extension contributes (package.json "contributes.commands"). No `vscode` import.
export const Commands = {
  start: 'irisHelper.start',
  stop: 'irisHelper.stop',
  restart: 'irisHelper.restart',
  showPorts: 'irisHelper.showPorts',
  openManagementPortal: 'irisHelper.openManagementPortal',
  showLog: 'irisHelper.showLog',
  release: 'irisHelper.release',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

/** host:port for a URL: an IPv6 address in brackets. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The Management Portal's home page for a host (the status' host) and web port. */
export function managementPortalUrl(host: string, webPort: number): string {
  return `http://${hostPort(host, webPort)}/csp/sys/UtilHome.csp`;
}
