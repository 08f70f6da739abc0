import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { configChangeAction, initializationOptions, readSettings, restartingSettings, userOnlySettings, type ConfigurationReader } from '../../src/core/options';

test('defaults', () => {
  assert.deepEqual(initializationOptions({}, true), {
    autoStart: true, image: '', syncEnv: 'auto', bindAddress: '127.0.0.1', stopOnExit: false, commandProvider: false,
    allowEnvFileOutsideProject: false, allowNetworkBind: false, dockerPath: '',
  });
});

test('settings map one to one', () => {
  assert.deepEqual(initializationOptions({
    autoStart: false, image: ' iris-helper/iris-stub:dev ', syncEnv: 'true', bindAddress: '0.0.0.0', stopOnExit: true, helperPath: '/x',
    allowEnvFileOutsideProject: true, allowNetworkBind: true, dockerPath: ' /opt/docker/bin/docker ',
  }, true), {
    autoStart: false, image: 'iris-helper/iris-stub:dev', syncEnv: 'true', bindAddress: '0.0.0.0', stopOnExit: true, commandProvider: false,
    allowEnvFileOutsideProject: true, allowNetworkBind: true, dockerPath: '/opt/docker/bin/docker',
  });
});

test('an untrusted workspace never auto-starts', () => {
  assert.equal(initializationOptions({ autoStart: true }, false).autoStart, false);
  assert.equal(initializationOptions({}, false).autoStart, false);
});

test('odd values fall back to defaults', () => {
  assert.equal(initializationOptions({ syncEnv: false }, true).syncEnv, 'false');
  assert.equal(initializationOptions({ syncEnv: 'sometimes' }, true).syncEnv, 'auto');
  assert.equal(initializationOptions({ syncEnv: 'TRUE' }, true).syncEnv, 'true');
  assert.equal(initializationOptions({ bindAddress: '  ' }, true).bindAddress, '127.0.0.1');
});

/** A configuration with a value per scope, merged as VS Code does (folder > workspace > user > default). */
function config(scopes: { user?: Record<string, unknown>; workspace?: Record<string, unknown>; folder?: Record<string, unknown> }): ConfigurationReader {
  return {
    get<T>(key: string): T | undefined {
      for (const s of [scopes.folder, scopes.workspace, scopes.user]) if (s && key in s) return s[key] as T;
      return undefined;
    },
    inspect<T>(key: string) {
      return { globalValue: scopes.user?.[key] as T | undefined };
    },
  };
}

// The repository's own .vscode/settings.json (folder scope) or .code-workspace file (workspace
// scope) must not choose a binary to execute, an address to publish IRIS on, or the allow* knobs.
const planted = {
  helperPath: '/w/repo/evil-helper', dockerPath: '/w/repo/evil-docker', bindAddress: '0.0.0.0', allowEnvFileOutsideProject: true, allowNetworkBind: true,
  image: 'repo/image:1', syncEnv: 'true', stopOnExit: true, autoStart: false,
};

test('helperPath, bindAddress and the allow* knobs come from user settings only', () => {
  for (const scope of ['folder', 'workspace'] as const) {
    const s = readSettings(config({ [scope]: planted }));
    assert.deepEqual(s, {
      autoStart: false, image: 'repo/image:1', syncEnv: 'true', stopOnExit: true,
      helperPath: undefined, dockerPath: undefined, bindAddress: undefined, allowEnvFileOutsideProject: undefined, allowNetworkBind: undefined,
    }, scope);
    assert.deepEqual(initializationOptions(s, true), {
      autoStart: false, image: 'repo/image:1', syncEnv: 'true', bindAddress: '127.0.0.1', stopOnExit: true, commandProvider: false,
      allowEnvFileOutsideProject: false, allowNetworkBind: false, dockerPath: '',
    }, scope);
  }
  // the user's own values count, whatever the repository says
  const mine = { helperPath: '/opt/iris-helper', dockerPath: '/usr/local/bin/docker', bindAddress: '::1', allowEnvFileOutsideProject: true, allowNetworkBind: true };
  const s = readSettings(config({ user: mine, folder: { helperPath: '/w/repo/evil', dockerPath: '/w/repo/evil-docker', bindAddress: '0.0.0.0', allowEnvFileOutsideProject: false, allowNetworkBind: false } }));
  assert.deepEqual([s.helperPath, s.dockerPath, s.bindAddress, s.allowEnvFileOutsideProject, s.allowNetworkBind], ['/opt/iris-helper', '/usr/local/bin/docker', '::1', true, true]);
  // a value of the wrong type is no value
  const odd = readSettings(config({ user: { helperPath: 7, bindAddress: false, allowEnvFileOutsideProject: 'yes', allowNetworkBind: 1 } }));
  assert.deepEqual(initializationOptions(odd, true), initializationOptions({}, true));
  assert.equal(odd.helperPath, undefined);
});

test('every user-only setting restarts the helper when it changes', () => {
  for (const k of userOnlySettings) assert.ok((restartingSettings as readonly string[]).includes(k), k);
});

test('a changed setting restarts the helper, or looks at objectscript.conn again, or does nothing', () => {
  const cases: { changed: string[]; want: ReturnType<typeof configChangeAction> }[] = [
    ...restartingSettings.map((k) => ({ changed: [`irisHelper.${k}`], want: 'restart' as const })),
    { changed: ['irisHelper.updateObjectScriptConnection'], want: 'conn' },
    { changed: ['irisHelper.updateObjectScriptConnection', 'irisHelper.image'], want: 'restart' },
    { changed: ['objectscript.conn'], want: 'connChanged' },
    { changed: ['objectscript.conn', 'irisHelper.updateObjectScriptConnection'], want: 'conn' },
    { changed: ['irisHelper.trace.server'], want: undefined },
    { changed: ['editor.tabSize'], want: undefined },
  ];
  for (const c of cases) {
    assert.equal(configChangeAction((section) => c.changed.includes(section)), c.want, c.changed.join(','));
  }
});
