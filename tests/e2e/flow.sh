#!/usr/bin/env bash
# The seed's flow end to end (scripts/flow.sh in test mode): registry, ccmd,
# ccm-agent, conversion, approval, runc, TLS, and the refusals.
exec env CCM_FLOW_MODE=test bash "${CCM_SRC:?}/scripts/flow.sh" "$(dirname "${CCM_BIN:?}")"
