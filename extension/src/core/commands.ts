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

/** The Management Portal's home page for a web port. */
export function managementPortalUrl(webPort: number, host = 'localhost'): string {
  return `http://${host}:${webPort}/csp/sys/UtilHome.csp`;
}
