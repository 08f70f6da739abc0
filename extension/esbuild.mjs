// Bundles the extension into dist/ with esbuild: dist/extension.js (activation: commands, status
// bar; kept small so activation stays cheap) and dist/helperClient.js (vscode-languageclient and
// the per-folder client), which extension.js loads on first use.
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const options = {
  entryPoints: { extension: 'src/extension.ts', helperClient: 'src/helperClient.ts' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outdir: 'dist',
  external: ['vscode'],
  // jsonc-parser's "main" is a UMD build with dynamic require()s esbuild cannot follow; its ESM build bundles
  mainFields: ['module', 'main'],
  minify: production,
  sourcemap: !production,
  logLevel: 'warning',
  // first and last statements of each bundle: activate() reports how long evaluating the bundle took
  banner: { js: 'var __irisHelperLoadStart = globalThis.performance ? performance.now() : 0;' },
  footer: { js: 'var __irisHelperLoadEnd = globalThis.performance ? performance.now() : 0;' },
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
