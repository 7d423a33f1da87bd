# CLI tests: ccm_shell_test(name cli/script.sh) (paths relative to tests/)
ccm_shell_test(cli_sgx cli/sgx.sh)
