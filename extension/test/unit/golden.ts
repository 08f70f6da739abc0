// The protocol's golden files (testdata/protocol/*.json), written by the Go types
// (rpc/protocol_golden_test.go: go test ./rpc -run TestProtocolGolden -update).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** testdata/protocol of the repository (this file runs from extension/out/test/unit). */
export const protocolGoldenDir = path.resolve(__dirname, '..', '..', '..', '..', 'testdata', 'protocol');

/** The parsed golden file name. */
export function readGolden(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(protocolGoldenDir, name), 'utf8'));
}
