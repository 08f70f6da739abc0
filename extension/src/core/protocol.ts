// Shapes of the helper's JSON-RPC protocol (`iris-helper serve --stdio`, docs/protocol.md and
// docs/status.md), with guards that check a value has every field with its type. The golden files
// testdata/protocol/*.json are written by the Go types (rpc/protocol_golden_test.go) and read by
// test/unit/protocol.test.ts through these guards, so the two sides cannot drift apart. No
// `vscode` import.

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
export type IrisPhase = 'pulling' | 'building' | 'creating' | 'starting' | 'waiting' | '';

/** How the project's IRIS runs (workspace.Kind). */
export type ProjectKind = 'image' | 'compose' | 'dockerfile';

/** One published port (workspace.PublishedPort); Status.ports lists them, the IRIS pair first. */
export interface PublishedPort {
  /** The compose service; "" for the image and Dockerfile kinds. */
  service: string;
  containerPort: number;
  protocol: string;
  /** 0: not published (yet). */
  hostPort: number;
  hostIP: string;
  /** The host port the compose file pins (0: none). */
  pinnedHostPort: number;
  /** The publishing container's state (running, exited, created...) or "missing". */
  state: string;
}

/** The one status shape every front end renders (helper: workspace.Status). */
export interface Status {
  project: string;
  isIrisProject: boolean;
  state: IrisState;
  superserverPort: number;
  webPort: number;
  bindAddress: string;
  /** The host name to connect to (the helper's ConnectHost(bindAddress)): localhost, or e.g. 127.0.0.2. */
  host: string;
  /** The IRIS namespace (.iris-helper.json iris.namespace; the helper applies the default USER). */
  namespace: string;
  /** The IRIS user (.iris-helper.json iris.username; default _SYSTEM). */
  username: string;
  kind: ProjectKind;
  /** compose's project name; "" unless the compose kind. */
  composeProject: string;
  /** The compose service that is IRIS; "" unless the compose kind. */
  irisService: string;
  ports: PublishedPort[];
  container: string;
  image: string;
  startedAt: string | null;
  exitCode: number | null;
  phase: IrisPhase;
  envFile: string;
  restartNeeded: boolean;
  message: string;
}


/** One registry assignment (registry.Assignment), as iris/release answers it. */
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
  /** a compose project's other published ports (registry.ExtraPort); absent when it has none */
  extraPorts?: ExtraPort[];
}

/** One extra port of an assignment: the stable host port of `service/containerPort/protocol`. */
export interface ExtraPort {
  key: string;
  port: number;
  assignedAt?: string;
}

/**
 * One registry entry with its live state (workspace.PortEntry), as iris/ports answers it and
 * `iris-helper ports list --json` prints it.
 */
export interface PortEntry extends Assignment {
  /** running|exited|created|... as the engine says, not-created, or unknown (engine down) */
  containerState: string;
  /** a status state (IrisState); docker-unavailable when the engine does not answer */
  state: string;
  /** Status.ports of the project: the IRIS pair first, then a compose project's other published ports */
  ports: PublishedPort[];
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
  /** The user's own choice only (irisHelper.dockerPath in user settings): the docker CLI for compose and builds; "" = docker on PATH. */
  dockerPath?: string;
}

/** The helper's initialize result (rpc.InitializeResult). */
export interface HelperInitializeResult {
  capabilities: {
    /** omitted when commandProvider is false (what the extension sends) */
    executeCommandProvider?: { commands: string[] };
    experimental: { irisStatus: boolean };
  };
  serverInfo: { name: string; version: string };
  /** null when the client opened no folder */
  status: Status | null;
}

/**
 * The helper's method names the extension uses: the one place they are written in TypeScript.
 * test/unit/protocol.test.ts checks them against testdata/protocol/methods.json, which the Go
 * method table (rpc/methods.go) writes.
 */
export const Methods = {
  start: 'iris/start',
  stop: 'iris/stop',
  restart: 'iris/restart',
  status: 'iris/status',
  ports: 'iris/ports',
  release: 'iris/release',
  statusNotification: 'iris/status',
} as const;

/** iris/start's params: build (Rebuild) builds the project's images again before the start. */
export interface StartParams {
  build?: boolean;
  /** The ids of the ConsentRequired items the user allowed (-32022). */
  allow?: string[];
}

/** One thing a compose project does beyond what a repository may do on its own (workspace.ConsentItem). */
export interface ConsentItem {
  id: string;
  service: string;
  text: string;
}

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

/** error.data of the helper's own errors (rpc.ErrorData); container and reason for ConfirmRequired (-32020). */
export interface ErrorData {
  status?: Status;
  container?: string;
  reason?: string;
  /** ConsentRequired (-32022): what the compose project does that needs the user's consent. */
  items?: ConsentItem[];
}

/** The helper's JSON-RPC error codes the extension acts on (the helper's rpc/codes.go). */
export const ErrorCodes = {
  containerRunning: -32019,
  /** a restart must recreate a container whose data is not on a volume: ask, then resend with confirm */
  confirmRequired: -32020,
  /** a compose project needs the user's consent: show the items, then resend iris/start with allow */
  consentRequired: -32022,
} as const;

export interface ReleaseParams {
  force?: boolean;
  purge?: boolean;
}

/**
 * A registry key that project detection no longer reaches (workspace.KeyNote): reason is set when
 * detection does not walk up into it from its subfolders, resolvesTo when it now resolves to another folder.
 */
export interface KeyNote {
  project: string;
  reason?: string;
  resolvesTo?: string;
}

/** A registry.json entry that failed validation and is not used (registry.InvalidEntry). */
export interface InvalidEntry {
  index: number;
  project?: string;
  reason: string;
  /** the entry exactly as in the file */
  entry: unknown;
}

/** iris/ports, as `iris-helper ports list --json` prints it (workspace.PortList). */
export interface PortsResult {
  assignments: PortEntry[];
  notes?: KeyNote[];
  invalid?: InvalidEntry[];
}

export interface ReleaseResult {
  released: Assignment;
}

// Guards. Each table names every field of its type (the `Record<keyof T, ...>` makes a missing or
// an unknown one a compile error) with the check of its value.

type Check = (v: unknown) => boolean;

const isString: Check = (v) => typeof v === 'string';
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isBoolean: Check = (v) => typeof v === 'boolean';
const orNull = (c: Check): Check => (v) => v === null || c(v);
const optional = (c: Check): Check => (v) => v === undefined || c(v);
const oneOf = (...values: readonly unknown[]): Check => (v) => values.includes(v);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasFields(v: unknown, fields: Record<string, Check>): boolean {
  return isObject(v) && Object.entries(fields).every(([k, check]) => check(v[k]));
}

export const irisStates: readonly IrisState[] = ['not-created', 'stopped', 'starting', 'ready', 'unhealthy', 'stopping', 'error', 'docker-unavailable'];
export const irisPhases: readonly IrisPhase[] = ['pulling', 'building', 'creating', 'starting', 'waiting', ''];
export const projectKinds: readonly ProjectKind[] = ['image', 'compose', 'dockerfile'];

export const publishedPortFields: Record<keyof PublishedPort, Check> = {
  service: isString,
  containerPort: isNumber,
  protocol: isString,
  hostPort: isNumber,
  hostIP: isString,
  pinnedHostPort: isNumber,
  state: isString,
};

export function isPublishedPort(v: unknown): v is PublishedPort {
  return hasFields(v, publishedPortFields);
}

export const statusFields: Record<keyof Status, Check> = {
  project: isString,
  isIrisProject: isBoolean,
  state: oneOf(...irisStates),
  superserverPort: isNumber,
  webPort: isNumber,
  bindAddress: isString,
  host: isString,
  namespace: isString,
  username: isString,
  kind: oneOf(...projectKinds),
  composeProject: isString,
  irisService: isString,
  ports: (v) => Array.isArray(v) && v.every(isPublishedPort),
  container: isString,
  image: isString,
  startedAt: orNull(isString),
  exitCode: orNull(isNumber),
  phase: oneOf(...irisPhases),
  envFile: isString,
  restartNeeded: isBoolean,
  message: isString,
};

export const assignmentFields: Record<keyof Assignment, Check> = {
  project: isString,
  slot: orNull(isNumber),
  superserverPort: isNumber,
  webPort: isNumber,
  type: isString,
  status: isString,
  container: isString,
  engine: isString,
  assignedAt: isString,
  lastUsedAt: isString,
  extraPorts: optional((v) => Array.isArray(v) && v.every((x) => hasFields(x, extraPortFields))),
};

export const extraPortFields: Record<keyof ExtraPort, Check> = { key: isString, port: isNumber, assignedAt: optional(isString) };

export const portEntryFields: Record<keyof PortEntry, Check> = {
  ...assignmentFields,
  containerState: isString,
  state: isString,
  ports: (v) => Array.isArray(v) && v.every(isPublishedPort),
};

export const keyNoteFields: Record<keyof KeyNote, Check> = { project: isString, reason: optional(isString), resolvesTo: optional(isString) };
export const invalidEntryFields: Record<keyof InvalidEntry, Check> = {
  index: isNumber,
  project: optional(isString),
  reason: isString,
  entry: (v) => v !== undefined,
};

const arrayOf = (c: Check): Check => (v) => Array.isArray(v) && v.every(c);

export const portsResultFields: Record<keyof PortsResult, Check> = {
  assignments: arrayOf((v) => hasFields(v, portEntryFields)),
  notes: optional(arrayOf((v) => hasFields(v, keyNoteFields))),
  invalid: optional(arrayOf((v) => hasFields(v, invalidEntryFields))),
};

export const initializationOptionsFields: Record<keyof InitializationOptions, Check> = {
  autoStart: isBoolean,
  image: isString,
  syncEnv: isString,
  bindAddress: isString,
  stopOnExit: isBoolean,
  commandProvider: oneOf(false),
  allowEnvFileOutsideProject: isBoolean,
  allowNetworkBind: isBoolean,
  dockerPath: optional(isString),
};

export const startParamsFields: Record<keyof StartParams, Check> = {
  build: optional(isBoolean),
  allow: optional((v) => Array.isArray(v) && v.every(isString)),
};
export const stopParamsFields: Record<keyof StopParams, Check> = { remove: optional(isBoolean), purge: optional(isBoolean) };
export const restartParamsFields: Record<keyof RestartParams, Check> = { confirm: optional(isBoolean), container: optional(isString) };

export function isStatus(v: unknown): v is Status {
  return hasFields(v, statusFields);
}

export function isAssignment(v: unknown): v is Assignment {
  return hasFields(v, assignmentFields);
}

export function isPortEntry(v: unknown): v is PortEntry {
  return hasFields(v, portEntryFields);
}

export const consentItemFields: Record<keyof ConsentItem, Check> = { id: isString, service: isString, text: isString };

export const errorDataFields: Record<keyof ErrorData, Check> = {
  status: optional(isStatus), container: optional(isString), reason: optional(isString),
  items: optional((v) => Array.isArray(v) && v.every((i) => hasFields(i, consentItemFields))),
};

export function isPortsResult(v: unknown): v is PortsResult {
  return hasFields(v, portsResultFields);
}

export const initializeResultFields: Record<keyof HelperInitializeResult, Check> = {
  capabilities: (v) => isObject(v) && hasFields(v.experimental, { irisStatus: isBoolean }) &&
    optional((c) => hasFields(c, { commands: (x) => Array.isArray(x) && x.every(isString) }))(v.executeCommandProvider),
  serverInfo: (v) => hasFields(v, { name: isString, version: isString }),
  status: orNull(isStatus),
};

export function isInitializationOptions(v: unknown): v is InitializationOptions {
  return hasFields(v, initializationOptionsFields);
}

export function isStopParams(v: unknown): v is StopParams {
  return hasFields(v, stopParamsFields);
}

export function isRestartParams(v: unknown): v is RestartParams {
  return hasFields(v, restartParamsFields);
}

export function isErrorData(v: unknown): v is ErrorData {
  return hasFields(v, errorDataFields);
}

export function isInitializeResult(v: unknown): v is HelperInitializeResult {
  return hasFields(v, initializeResultFields);
}
