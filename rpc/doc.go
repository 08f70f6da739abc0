// Package rpc is the per-workspace helper that editors spawn: JSON-RPC 2.0 with LSP framing on
// stdio (github.com/sourcegraph/jsonrpc2 over the package's own Stream), the LSP lifecycle
// (initialize, initialized, shutdown, exit), and iris/* requests that map onto one
// workspace.Project. The wire protocol is fixed in docs/protocol.md.
package rpc
