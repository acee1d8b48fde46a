#!/usr/bin/env bash
# The HTTP API as the ecosystem's own tools see it, against a live `berth up`:
# openapi-spec-validator on the served document, schemathesis on every operation (a fixed
# example budget and seed; any finding fails), and a client generated from the document
# (openapi-python-client) that imports and performs one call.
#
# Run inside a network namespace of its own (`unshare --net`): only loopback exists, so the
# registries the fuzzer integrates (any URL it makes up) are never reached, and ports cannot
# clash with other tests. Usage: conformance.sh BERTH_BINARY TOOLS_VENV WORK_DIR
set -euo pipefail
berth=$1 py=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
examples=${BERTH_SCHEMATHESIS_EXAMPLES:-15}
ip link set lo up

"$berth" up --data-dir "$work/data" --listen 127.0.0.1:8080 >"$work/stdout" 2>"$work/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q "ready" "$work/stdout" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "berth up exited"; cat "$work/stderr"; exit 1; }
  sleep 0.25
done
grep -q "ready" "$work/stdout" || { echo "berth up did not get ready"; cat "$work/stderr"; exit 1; }
token=$(cat "$work/data/admin-token")
base=http://127.0.0.1:8080

echo "== openapi-spec-validator"
"$py/bin/python" - "$base/api/v1/openapi.json" "$work/openapi.json" <<'PY'
import sys, urllib.request
open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1]).read())
PY
"$py/bin/openapi-spec-validator" "$work/openapi.json"

echo "== fixtures the documented examples name (registry hub, space hub/team, workspace blue, ...)"
"$py/bin/python" - "$base" "$token" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.status
# Nothing listens on ports 9 and 10 in this namespace: the registries are unreachable, as a
# fuzzer's are (a host belongs to one registry, hence two ports).
for name, port in [("hub", 9), ("hub2", 10)]:
    call("POST", "/api/v1/registries", {"name": name, "kind": "oci", "url": f"http://127.0.0.1:{port}", "verify": False})
call("POST", "/api/v1/registries/hub/spaces", {"name": "team"})
call("POST", "/api/v1/workspaces", {"name": "blue"})
call("PUT", "/api/v1/workspaces/blue/namespaces/blue-ns")
call("PUT", "/api/v1/workspaces/blue/members/alice", {"role": "workspace-editor"})
call("PUT", "/api/v1/registries/hub/spaces/team/bindings/blue")
call("POST", "/api/v1/replication/policies", {"name": "mirror", "source": {"registry": "hub", "space": "team"}, "destination": {"registry": "hub2"}})
call("POST", "/api/v1/replication/policies/mirror/run")
print("fixtures made")
PY

echo "== schemathesis ($examples examples per operation)"
cd "$work"
"$py/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$work/openapi.json" --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing --mode all \
  --max-examples "$examples" --seed 20261204 --workers 1 --request-timeout 20 \
  --suppress-health-check too_slow,filter_too_much \
  --report junit --report-dir "$work/schemathesis" \
  --no-color

echo "== generated client (openapi-python-client)"
(cd "$work" && "$py/bin/openapi-python-client" generate --path openapi.json --output-path client --overwrite >/dev/null)
"$py/bin/python" -m compileall -q "$work/client" >/dev/null
PYTHONPATH="$work/client" "$py/bin/python" - "$base" "$token" <<'PY'
import sys
from berth_client import AuthenticatedClient
from berth_client.api.workspaces import create_workspace, get_workspace
from berth_client.models import CreateWorkspaceBody

client = AuthenticatedClient(base_url=sys.argv[1], token=sys.argv[2])
created = create_workspace.sync(client=client, body=CreateWorkspaceBody(name="generated-client", description="made by a generated client"))
assert created is not None and created.name == "generated-client", created
got = get_workspace.sync(client=client, workspace="generated-client")
assert got.description == "made by a generated client", got
print("generated client: created and read back workspace", got.name)
PY
echo "== all conformance checks passed"
