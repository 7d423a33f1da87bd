# CLI tests: ccm_shell_test(name cli/script.sh) (paths relative to tests/)
ccm_shell_test(cli_sgx cli/sgx.sh)
ccm_shell_test(cli_quote cli/quote.sh)
ccm_shell_test(cli_image cli/image.sh LABEL integration TIMEOUT 600)
