import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Commands } from '../../src/core/commands';
import { initializationOptions, userOnlySettings } from '../../src/core/options';
import { tooltipCommands } from '../../src/core/statusView';

// out/test/unit -> extension/
const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));

test('activation: the IRIS markers and the compose and Dockerfile names at the folder root (the helper decides whether it is IRIS), never "*"', () => {
  assert.deepEqual(manifest.activationEvents, [
    'workspaceContains:**/.iris-helper.json',
    'workspaceContains:**/module.xml',
    'workspaceContains:**/iris.script',
    'workspaceContains:**/*.cls',
    'workspaceContains:**/*.mac',
    'workspaceContains:compose.yaml',
    'workspaceContains:compose.yml',
    'workspaceContains:docker-compose.yaml',
    'workspaceContains:docker-compose.yml',
    'workspaceContains:Dockerfile',
  ]);
  assert.ok(!manifest.activationEvents.some((e: string) => e === '*' || e === 'onStartupFinished'));
});

test('every command the code uses is contributed, in category IRIS', () => {
  const contributed = new Map<string, { category: string; title: string }>(
    manifest.contributes.commands.map((c: { command: string; category: string; title: string }) => [c.command, c]));
  for (const id of [...Object.values(Commands), ...tooltipCommands]) {
    assert.ok(contributed.has(id), `${id} contributed`);
    assert.equal(contributed.get(id)?.category, 'IRIS', id);
  }
  assert.deepEqual([...contributed.values()].map((c) => c.title).sort(),
    ['Open Management Portal', "Point objectscript.conn at This Project's Port", 'Rebuild', 'Release Port', 'Restart', 'Retry ObjectScript Connection', 'Show Helper Log', 'Show Ports', 'Start', 'Stop', 'Stop and Delete Data...']);
  assert.deepEqual(contributed.get(Commands.rebuild), { command: 'irisHelper.rebuild', title: 'Rebuild', category: 'IRIS', icon: '$(tools)' });
});

test('settings: names match initializationOptions, defaults match the code', () => {
  const props = manifest.contributes.configuration.properties;
  const defaults = initializationOptions({}, true);
  for (const key of ['autoStart', 'image', 'syncEnv', 'bindAddress', 'stopOnExit', 'allowEnvFileOutsideProject', 'allowNetworkBind', 'dockerPath'] as const) {
    assert.ok(props[`irisHelper.${key}`], key);
    assert.deepEqual(props[`irisHelper.${key}`].default, defaults[key], key);
  }
  assert.equal(props['irisHelper.helperPath'].scope, 'machine');
  assert.equal(props['irisHelper.updateObjectScriptConnection'].default, true);
  assert.equal(props['irisHelper.stopOnExit'].default, false);
  assert.deepEqual(props['irisHelper.trace.server'].enum, ['off', 'messages', 'compact', 'verbose']);
});

test('settings: every setting the issue names, with its default', () => {
  const props = manifest.contributes.configuration.properties;
  const want: Record<string, unknown> = {
    'irisHelper.autoStart': true,
    'irisHelper.image': '',
    'irisHelper.syncEnv': 'auto',
    'irisHelper.bindAddress': '127.0.0.1',
    'irisHelper.stopOnExit': false,
    'irisHelper.helperPath': '',
    'irisHelper.dockerPath': '',
    'irisHelper.allowEnvFileOutsideProject': false,
    'irisHelper.allowNetworkBind': false,
    'irisHelper.updateObjectScriptConnection': true,
    'irisHelper.trace.server': 'off',
  };
  assert.deepEqual(Object.keys(props).sort(), Object.keys(want).sort());
  for (const [key, def] of Object.entries(want)) assert.deepEqual(props[key].default, def, key);
});

test('settings read from user scope only are declared machine-scoped (VS Code then ignores workspace and folder values too)', () => {
  const props = manifest.contributes.configuration.properties;
  assert.deepEqual([...userOnlySettings].sort(), ['allowEnvFileOutsideProject', 'allowNetworkBind', 'bindAddress', 'dockerPath', 'helperPath']);
  for (const key of userOnlySettings) {
    assert.equal(props[`irisHelper.${key}`].scope, 'machine', key);
    assert.match(props[`irisHelper.${key}`].markdownDescription, /user \(or remote\) settings only: a workspace or folder value is ignored/, key);
  }
  for (const key of ['allowEnvFileOutsideProject', 'allowNetworkBind']) {
    assert.equal(props[`irisHelper.${key}`].type, 'boolean', key);
    assert.equal(props[`irisHelper.${key}`].default, false, key);
  }
});

test('no folder or workspace setting is written through VS Code\'s configuration API (it would follow a planted .vscode link); user settings only for the Server Manager definitions', () => {
  const src = path.resolve(__dirname, '..', '..', '..', 'src');
  const files = fs.readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('extension.ts'));
  for (const f of files) {
    const text = fs.readFileSync(path.join(src, f), 'utf8');
    if (f === 'serverDefs.ts') continue;
    assert.doesNotMatch(text, /getConfiguration\([^)]*\)\s*\.\s*update\s*\(|\bcfg\s*\.\s*update\s*\(|ConfigurationTarget/, f);
  }
  // the one exception: iris-helper's own Server Manager definitions, in the user's settings only
  const defs = fs.readFileSync(path.join(src, 'serverDefs.ts'), 'utf8');
  assert.deepEqual(defs.match(/ConfigurationTarget\.\w+/g), ['ConfigurationTarget.Global']);
  assert.deepEqual(defs.match(/\.update\(/g), ['.update(']);
});

test('workspace trust: limited, helperPath and autoStart restricted', () => {
  const trust = manifest.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  assert.ok(trust.restrictedConfigurations.includes('irisHelper.helperPath'));
  assert.ok(trust.restrictedConfigurations.includes('irisHelper.autoStart'));
  assert.ok(trust.description.length > 0);
});

test('license: MIT, with the license text packaged', () => {
  assert.equal(manifest.license, 'MIT');
  const text = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'LICENSE'), 'utf8');
  assert.match(text, /^MIT License/);
});

test('engines and dependencies are the versions that work here', () => {
  assert.equal(manifest.engines.vscode, '^1.138.0');
  assert.equal(manifest.devDependencies['@types/vscode'], '1.138.0');
  assert.match(manifest.dependencies['vscode-languageclient'], /^\^?11\./);
  assert.equal(manifest.main, './dist/extension.js');
});
