package protocol

// Version is the semantic version of ssot-ws: of the plugin, the Go runtime
// and the wire protocol they speak.
const Version = "0.2.0"
