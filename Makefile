# The README's two commands: `make demo` sets everything up and runs the demo;
# `make test` runs every check and test against a real Cassandra 5.0 node,
# starting one when none answers. .ci/run calls `make test`.

GO ?= go
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: demo test check generate cassandra cassandra-stop chromium screenshots

# Regenerate models/ and queries/ after a change to schema/*.cql.
generate:
	$(GO) generate ./...

DEMO_KEYSPACE ?= jobsharp_demo

# Starts Cassandra when none answers, applies the schema to a demo keyspace
# (idempotent) and runs examples/demo: processors working through every kind
# of job. The keyspace stays for `go run ./cmd/jobsharp stats --keyspace jobsharp_demo`.
demo: cassandra
	$(GO) run ./cmd/jobsharp schema apply --keyspace $(DEMO_KEYSPACE) --replication SimpleStrategy:1
	$(GO) run ./examples/demo --keyspace $(DEMO_KEYSPACE)
	@echo
	@echo "Open the demo keyspace in the dashboard (then http://127.0.0.1:8080/):"
	@echo "  $(GO) run ./cmd/jobsharp dashboard --keyspace $(DEMO_KEYSPACE)"

# The fault suite (./faults) runs after the rest, alone: it starts a
# three-node cluster and times faults against it, and running it beside the
# other packages' load (seven JVMs and the tests on two cores, load average
# 25) made its checks of node timing flaky without testing the store more.
test: check cassandra chromium
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v '/faults$$')
	$(GO) test $(TEST_FLAGS) ./faults

# Generated code current, formatting, vet, lint, and no name-based binding
# in repo. Fails on the first problem.
check:
	$(GO) run ./gen -schema schema/Schema.cql -queries-cql schema/queries.cql -models models -queries queries -check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...
	$(GO) test -count=1 ./internal/bindcheck # repo binds every statement by position, through queries.DB

cassandra:
	scripts/cassandra start

# The dashboard's browser tests drive a headless Chromium; installed with apt
# when missing.
chromium:
	scripts/install-chromium

# The README's dashboard pictures: the browser test saves a screenshot of
# every page it visits; these are the ones docs/dashboard keeps.
DASHBOARD_SHOTS = overview failed job bulk-confirm bulk-progress batches batch recurring queues processors
screenshots: cassandra chromium
	@dir=$$(mktemp -d) && \
	JOBSHARP_SCREENSHOTS=$$dir $(GO) test -count=1 -run '^TestBrowser$$' ./dashboard && \
	for s in $(DASHBOARD_SHOTS); do cp $$dir/$$s.png docs/dashboard/$$s.png || exit 1; done && \
	rm -r $$dir && echo "updated docs/dashboard: $(DASHBOARD_SHOTS)"

cassandra-stop:
	scripts/cassandra stop
