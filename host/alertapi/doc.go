// Package alertapi serves alerting over HTTP and keeps its configuration:
// alert rules (/api/v1/alert-rules, also loaded from YAML files as code),
// the current alerts of a profile with their acknowledgement
// (/api/v1/alerts), silences (/api/v1/silences), and the notifications
// outbox with its dead letters (/api/v1/notifications). It validates with the
// alert and silence packages, stores through the store, audits every write
// and announces it on the bus as alert.changed, so the evaluation side
// (another package) reloads what changed. It evaluates nothing itself.
package alertapi
