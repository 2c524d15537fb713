// Package plugins is the host's plugin manager: it owns the plugin
// directory and every plugin process started from it.
//
// Loading is a pipeline of small stages: discover (one folder per bundle
// under the plugin directory), verify (manifest, checksum, protocol and host
// ranges), start (go-plugin over gRPC with AutoMTLS and a checksum-verified
// executable), confirm (Describe must agree with the manifest) and serve. A
// bad bundle is logged, skipped and listed with the reason; it never blocks
// the others.
//
// Each plugin id has one supervisor that restarts its process with backoff
// after a crash or missed health checks and opens a circuit (state failed)
// when the plugin keeps crashing. The directory is watched: a new bundle
// starts, a replaced one starts its new generation alongside the old one
// and takes over only once healthy, a removed one drains and stops.
//
// The rest of the host talks to plugins through a Handle, which puts a
// deadline on every call, counts calls in flight so a generation can be
// drained, and configures an instance again when a restarted process no
// longer holds it.
package plugins
