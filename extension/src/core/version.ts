// Comparing the extension's version with the helper's serverInfo.version. No `vscode` import.

/** Strips a leading "v" and surrounding space: "v0.1.0 " -> "0.1.0". */
export function normalizeVersion(v: string | undefined): string {
  return (v ?? '').trim().replace(/^v(?=\d)/, '');
}

/**
 * A sentence telling the user that the helper and the extension differ, or undefined when
 * they agree. A helper that reports no version counts as different.
 */
export function versionMismatch(extensionVersion: string, helperVersion: string | undefined, helperPath: string): string | undefined {
  const ext = normalizeVersion(extensionVersion);
  const helper = normalizeVersion(helperVersion);
  if (helper !== '' && helper === ext) return undefined;
  const shown = helper === '' ? 'an unknown version' : `version ${helper}`;
  return `The IRIS helper at ${helperPath} is ${shown}, but the IRIS Helper extension is version ${ext}. ` +
    'Things may not work as expected; use the bundled helper (clear irisHelper.helperPath) or a matching one.';
}
