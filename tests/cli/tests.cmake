# CLI tests: ccm_shell_test(name script.sh)
