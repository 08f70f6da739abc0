// Shapes of the helper's JSON-RPC protocol (`iris-helper serve --stdio`), as in docs/status.md
// and issue 5. Types only: no runtime code, no `vscode` import.

/** States of a project's IRIS container (Status.state). */
export type IrisState =
  | 'not-created'
  | 'stopped'
  | 'starting'
  | 'ready'
  | 'unhealthy'
  | 'stopping'
  | 'error'
  | 'docker-unavailable';

/** Phases of a start while state is "starting"; "" otherwise. */
export type IrisPhase = 'pulling' | 'creating' | 'starting' | 'waiting' | '';

/** The one status shape every front end renders (helper: workspace.Status). */
export interface Status {
  project: string;
  isIrisProject: boolean;
  state: IrisState;
  superserverPort: number;
  webPort: number;
  bindAddress: string;
  container: string;
  image: string;
  startedAt: string | null;
  exitCode: number | null;
  phase: IrisPhase;
  envFile: string;
  restartNeeded: boolean;
  message: string;
}

/** One registry entry with its live state, as answered by iris/ports. */
export interface Assignment {
  project: string;
  slot: number | null;
  superserverPort: number;
  webPort: number;
  type: string;
  status: string;
  container: string;
  engine: string;
  assignedAt: string;
  lastUsedAt: string;
  containerState?: string;
  state?: string;
}

/** initializationOptions the extension sends; the names match the irisHelper.* settings. */
export interface InitializationOptions {
  autoStart: boolean;
  image: string;
  syncEnv: string;
  bindAddress: string;
  stopOnExit: boolean;
  commandProvider: false;
  /** The user's own choice only (irisHelper.* in user settings): may .env lead outside the project. */
  allowEnvFileOutsideProject: boolean;
  /** The user's own choice only: may a bindAddress from the repository expose IRIS to the network. */
  allowNetworkBind: boolean;
}

/** The extra fields of the helper's initialize result. */
export interface HelperInitializeResult {
  serverInfo?: { name: string; version?: string };
  status?: Status;
}

/** Request and notification method names. */
export const Methods = {
  start: 'iris/start',
  stop: 'iris/stop',
  restart: 'iris/restart',
  status: 'iris/status',
  ports: 'iris/ports',
  release: 'iris/release',
  statusNotification: 'iris/status',
} as const;

export interface StopParams {
  remove?: boolean;
  purge?: boolean;
}

/** iris/restart's params: confirm is sent only after the user agreed to what ConfirmRequired said. */
export interface RestartParams {
  confirm?: boolean;
  /** With confirm: the container the user confirmed (error.data.container of the -32020 answer). */
  container?: string;
}

/** error.data of a ConfirmRequired (-32020) answer to iris/restart. */
export interface ConfirmRequiredData {
  container: string;
  reason: string;
}

/** The helper's JSON-RPC error codes the extension acts on (the helper's rpc/codes.go). */
export const ErrorCodes = {
  containerRunning: -32019,
  /** a restart must recreate a container whose data is not on a volume: ask, then resend with confirm */
  confirmRequired: -32020,
} as const;

export interface ReleaseParams {
  force?: boolean;
  purge?: boolean;
}

export interface PortsResult {
  assignments: Assignment[];
}

export interface ReleaseResult {
  released: Assignment;
}
