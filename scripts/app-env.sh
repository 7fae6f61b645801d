# Sourced by serve.sh and test.sh (ROOT set): installs the pinned tools when missing
# (setup-tools.sh, idempotent), fetches the built-in demo model (trunk copies it into
# dist/models/, see index.html; the tests load it) and sets up trunk's environment.
"$ROOT/scripts/setup-tools.sh"
"$ROOT/scripts/fetch-models.sh"
eval "$("$ROOT/scripts/setup-tools.sh" --env)"
export TRUNK_SKIP_VERSION_CHECK=true TRUNK_OFFLINE=true
