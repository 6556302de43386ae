// Package helm pins the helm CLI as a Go tool (`go tool helm`, in its own
// module so that Kubernetes' dependencies stay out of shopgraph's go.mod) and
// tests the chart in deploy/helm/shopgraph without a cluster: lint, render,
// decode every manifest strictly into the Kubernetes API types, and check it
// against the shopgraph binary's own flags and routes.
//
//	cd tools/helm && go test ./... && go tool helm lint ../../deploy/helm/shopgraph
package helm
