package rpc

// Error codes the helper answers with. Every error response carries one of these; see
// docs/protocol.md "Errors".
const (
	// JSON-RPC 2.0
	CodeParseError     = -32700 // the body is not JSON, or bytes between frames are not a header
	CodeInvalidRequest = -32600 // not a request object; no Content-Length; frame too large; second initialize; request after shutdown or exit
	CodeMethodNotFound = -32601 // unknown method
	CodeInvalidParams  = -32602 // params do not decode, or an unknown command; the message names the field
	CodeInternalError  = -32603 // a failure no other code describes

	// LSP
	CodeServerNotInitialized = -32002 // a request before initialize
	CodeRequestCancelled     = -32800 // $/cancelRequest reached the request first
	CodeRequestFailed        = -32803 // refused at once: too many requests in flight (MaxInFlight)

	// iris-helper (the JSON-RPC "server error" range -32099..-32000); error.data carries
	// {"status": Status} when the project's status is known.
	CodeDockerUnavailable = -32010 // the container engine does not answer
	CodePortConflict      = -32011 // a requested port is held by another project or process
	CodePortsExhausted    = -32012 // no free port pair left in the ranges
	CodeRegistryLocked    = -32013 // another iris-helper process holds the registry lock too long
	CodeRegistryCorrupt   = -32014 // registry.json unreadable (moved aside) or written by a newer version
	CodeStartFailed       = -32015 // pull failed, container exited while starting, or IRIS never answered
	CodeNoProject         = -32016 // the workspace has no folder (initialize named none)
	CodeOpenProject       = -32017 // the project could not be opened (invalid .iris-helper.json, unreadable folder)
	CodeStartInterrupted  = -32018 // the start was cancelled by a stop
	CodeContainerRunning  = -32019 // release refused: the container runs (pass force: true)
	// CodeConfirmRequired: a restart (or start) would have to remove the project's container,
	// whose data is not on the durable volume; error.data carries {"container", "reason"}. Ask
	// the user, then send iris/restart with {"confirm": true, "container": data.container}.
	CodeConfirmRequired = -32020
	// CodeRegistryAccess: IRIS_HELPER_HOME or a file in it is not usable by this user (owner,
	// permissions, a folder or FIFO where registry.json belongs); the message gives the fix.
	CodeRegistryAccess = -32021
	// CodeConsentRequired: the project's compose model does what a repository's files may not do
	// on their own (docs/config.md); error.data carries {"items": [{id, service, text}]}. Show the
	// items to the user, then send iris/start with {"allow": [the ids]}.
	CodeConsentRequired = -32022
)
