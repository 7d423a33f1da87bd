# End-to-end: needs root, runc, docker-registry, skopeo, umoci, debootstrap
# (the Flask image is cached in /var/cache/ccm after the first run).
ccm_shell_test(e2e_flow e2e/flow.sh LABEL e2e TIMEOUT 1500)
