# Shared helpers for shell tests: source it, then call ok/expect/done_tests.
# CCM_BIN, CCM_VECTORS and CCM_SRC come from ctest's environment.
set -u
CCM=${CCM_BIN:?}/ccm
VEC=${CCM_VECTORS:?}
T_PASS=0
T_FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { T_PASS=$((T_PASS + 1)); }
failt() { T_FAIL=$((T_FAIL + 1)); echo "FAIL: $*" >&2; }

# expect STATUS SUBSTRING CMD...: run CMD, check its exit status and that
# stdout+stderr contain SUBSTRING (empty: no check).
expect() {
	local want=$1 sub=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		failt "$* -> exit $rc, want $want; output: $out"
		return
	fi
	if [ -n "$sub" ] && ! printf '%s' "$out" | grep -qF -- "$sub"; then
		failt "$* -> output lacks '$sub': $out"
		return
	fi
	pass
}

# jget FILE KEY: print a top-level JSON value (python3, no jq needed).
jget() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}

done_tests() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}
