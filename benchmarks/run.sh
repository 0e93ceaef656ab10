#!/usr/bin/env bash
# Run the peer benchmark: creates benchmarks/.venv (editable openpanel-core + the pinned peers)
# when it is missing or requirements.txt changed, then runs run.py with it. Args go to run.py;
# `run.sh webhooks [args]` runs webhooks.py (webhook verification beside svix, stripe, ...).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "creating $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -e "$here/../packages/core" -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi
if [ "${1:-}" = "webhooks" ]; then
  shift
  exec "$venv/bin/python" "$here/webhooks.py" "$@"
fi
exec "$venv/bin/python" "$here/run.py" "$@"
