// Command ids the extension contributes (package.json "contributes.commands"). No `vscode` import.
export const Commands = {
  start: 'irisHelper.start',
  stop: 'irisHelper.stop',
  /** iris/stop {"remove": true, "purge": true}, after a modal: the containers and the project's volumes go. */
  purge: 'irisHelper.purge',
  restart: 'irisHelper.restart',
  /** iris/start {"build": true}: build the project's images again, then start (compose and Dockerfile projects). */
  rebuild: 'irisHelper.rebuild',
  showPorts: 'irisHelper.showPorts',
  openManagementPortal: 'irisHelper.openManagementPortal',
  showLog: 'irisHelper.showLog',
  release: 'irisHelper.release',
  /** Make the ObjectScript extension check its connection again (objectscript.conn rewritten). */
  retryObjectScript: 'irisHelper.retryObjectScript',
  /** objectscript.conn names a server on another port: write this project's host/port into the folder's conn instead. */
  useProjectPort: 'irisHelper.useProjectPort',
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
