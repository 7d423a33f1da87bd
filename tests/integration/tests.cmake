# Manager integration tests: each starts the real ccmd on a free loopback
# port with a temporary data directory (see lib.sh).
ccm_shell_test(it_bootstrap integration/test_bootstrap.sh LABEL integration)
ccm_shell_test(it_routes integration/test_routes.sh LABEL integration)
ccm_shell_test(it_accounts integration/test_accounts.sh LABEL integration)
ccm_shell_test(it_tokens integration/test_tokens.sh LABEL integration)
ccm_shell_test(it_cli integration/test_cli.sh LABEL integration)
ccm_shell_test(it_bad_input integration/test_bad_input.sh LABEL integration)
ccm_shell_test(it_crash integration/test_crash.sh LABEL integration)
