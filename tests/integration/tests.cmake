# Manager integration tests: each starts the real ccmd on a free loopback
# port with a temporary data directory (see lib.sh).
ccm_shell_test(it_bootstrap integration/test_bootstrap.sh LABEL integration)
ccm_shell_test(it_routes integration/test_routes.sh LABEL integration)
ccm_shell_test(it_accounts integration/test_accounts.sh LABEL integration)
ccm_shell_test(it_tokens integration/test_tokens.sh LABEL integration)
ccm_shell_test(it_cli integration/test_cli.sh LABEL integration)
ccm_shell_test(it_bad_input integration/test_bad_input.sh LABEL integration)
ccm_shell_test(it_crash integration/test_crash.sh LABEL integration)
ccm_shell_test(it_seed integration/test_seed.sh LABEL integration)
ccm_shell_test(it_quorum integration/test_quorum.sh LABEL integration)
ccm_shell_test(it_enroll_dcap integration/test_enroll_dcap.sh LABEL integration)
ccm_shell_test(it_bad_objects integration/test_bad_objects.sh LABEL integration)
ccm_shell_test(it_issue integration/test_issue.sh LABEL integration)
# `ccm bench issue` for 1 s through bench/issue.sh, then against fakeagent.py
# (keep-alive, and the agent closing the connection after each answer).
ccm_shell_test(it_bench_issue integration/test_bench_issue.sh LABEL integration TIMEOUT 120)
ccm_shell_test(it_agent_apps integration/test_agent_apps.sh LABEL integration)
ccm_shell_test(it_agent_batch integration/test_agent_batch.sh LABEL integration)
# Renewal at every heartbeat while 16 attest requests are in flight.
ccm_shell_test(it_agent_renew integration/test_agent_renew.sh LABEL integration)
# Password checks off ccmd's loop: the loop answers while logins queue.
ccm_shell_test(it_login_defer integration/test_login_defer.sh LABEL integration TIMEOUT 120)
# Wrong batch answers from fakemanager.py: every runtime gets its own 502.
ccm_shell_test(it_agent_frames integration/test_agent_frames.sh LABEL integration)
ccm_shell_test(it_node_approval integration/test_node_approval.sh LABEL integration)
ccm_shell_test(it_objects_cli integration/test_objects_cli.sh LABEL integration)
ccm_shell_test(it_registry_creds integration/test_registry_creds.sh LABEL integration TIMEOUT 300)
# Image conversion through ccmd against a loopback docker-registry (needs
# docker-registry, skopeo, umoci, busybox-static; skips without them).
ccm_shell_test(it_build_registry integration/test_build_registry.sh LABEL integration TIMEOUT 120)
