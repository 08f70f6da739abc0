// Where the helper binary is and whether it can run. Uses node:fs only; no `vscode` import.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The VS Code target of this platform ("linux-x64", "win32-x64"...), as vsce --target names it. */
export function platformTarget(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** extension/bin/<platform>-<arch>/iris-helper[.exe] inside the installed extension. */
export function bundledHelperPath(extensionPath: string, platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const exe = platform === 'win32' ? 'iris-helper.exe' : 'iris-helper';
  return path.join(extensionPath, 'bin', platformTarget(platform, arch), exe);
}

export interface HelperChoice {
  path: string;
  /** 'setting' when irisHelper.helperPath chose it, else 'bundled'. */
  source: 'setting' | 'bundled';
}

/** irisHelper.helperPath when set and the workspace is trusted, else the bundled binary. */
export function chooseHelper(extensionPath: string, helperPathSetting: string | undefined, trusted: boolean): HelperChoice {
  const custom = (helperPathSetting ?? '').trim();
  if (custom !== '' && trusted) return { path: custom, source: 'setting' };
  return { path: bundledHelperPath(extensionPath), source: 'bundled' };
}

/** undefined when the file exists and is executable; else a sentence that names irisHelper.helperPath. */
export function checkHelper(choice: HelperChoice, platform: NodeJS.Platform = process.platform): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(choice.path);
  } catch {
    return choice.source === 'setting'
      ? `The IRIS helper set in irisHelper.helperPath was not found: ${choice.path}. Fix or clear irisHelper.helperPath.`
      : `The bundled IRIS helper is missing (${choice.path}); this build of the extension has none for ${platformTarget()}. ` +
        'Install the iris-helper binary and set irisHelper.helperPath to it.';
  }
  if (!st.isFile()) {
    return `The IRIS helper path is not a file: ${choice.path}. Set irisHelper.helperPath to the iris-helper binary.`;
  }
  if (platform !== 'win32') {
    try {
      fs.accessSync(choice.path, fs.constants.X_OK);
    } catch {
      if (choice.source === 'bundled' && makeExecutable(choice.path)) return undefined;
      return `The IRIS helper is not executable: ${choice.path}. Run chmod +x on it, or set irisHelper.helperPath to another iris-helper binary.`;
    }
  }
  return undefined;
}

/** Restores the exec bit of the bundled binary (lost by some unzip paths); true when it worked. */
function makeExecutable(file: string): boolean {
  try {
    fs.chmodSync(file, 0o755);
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
